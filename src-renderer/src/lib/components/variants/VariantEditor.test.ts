import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/errors';
import type { Variant } from '../../api/types';
import { newVariant } from '../../logic/defaults';
import { editorEnv, fakeEditorApi, MODEL } from '../../../test/fixtures';
import VariantEditorHarness from '../../../test/VariantEditorHarness.svelte';

function setup(initial: Variant = newVariant('Steer'), env = editorEnv()) {
  const changes: Variant[] = [];
  const view = render(VariantEditorHarness, { props: { initial, env, onvariant: (variant: Variant) => changes.push(variant) } });
  const latest = () => {
    const last = changes.at(-1);
    if (!last) throw new Error('the editor reported no change');
    return last;
  };
  return { ...view, changes, latest, env };
}

async function type(label: string, value: string) {
  await fireEvent.input(screen.getByLabelText(label, { exact: true }), { target: { value } });
}

describe('variant editor', () => {
  it('adds a steering intervention whose vector comes from a token embedding', async () => {
    const { latest, env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    // Default site: hook_resid_post about a third of the way in (block 1 of 5).
    expect(latest().interventions).toEqual([{ op: 'add', hook: 'blocks.1.hook_resid_post', vector: [], scale: 4, positions: 'all' }]);

    await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: '2' } });
    await type('Token text', 'do');
    await fireEvent.click(screen.getByRole('button', { name: 'Use embedding' }));
    await waitFor(() => expect(latest().interventions[0]).toMatchObject({ vector: [0.5, -1, 0.25, 2] }));
    expect(env.api.embeddingVector).toHaveBeenCalledWith({ token: 'do' });

    await type('Scale', '-2.5');
    expect(latest().interventions).toEqual([{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: [0.5, -1, 0.25, 2], scale: -2.5, positions: 'all' }]);
    expect(latest().origins).toEqual({ '0': { kind: 'embedding', token: 'do', tokenId: 402 } });
  });

  it('offers only d_model-wide hooks for steering', async () => {
    setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    const sites = [...(screen.getByLabelText('Hook site') as HTMLSelectElement).options].map((option) => option.textContent);
    expect(sites).toEqual(['hook_embed', 'hook_resid_pre', 'hook_attn_out', 'hook_resid_mid', 'hook_mlp_out', 'hook_resid_post', 'ln_final.hook_normalized']);
  });

  it('makes a contrast vector at the op’s hook', async () => {
    const { latest, env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await fireEvent.click(screen.getByLabelText('Contrast pair'));
    await type('Positive prompt', 'Love');
    await type('Negative prompt', 'Hate');
    await fireEvent.click(screen.getByRole('button', { name: 'Compute vector' }));
    await waitFor(() => expect(latest().interventions[0]).toMatchObject({ vector: [1, 1, 0, 0] }));
    expect(env.api.contrastVector).toHaveBeenCalledWith({ hook: 'blocks.1.hook_resid_post', positive: 'Love', negative: 'Hate', reduce: 'mean' });
    expect(latest().origins['0']).toEqual({ kind: 'contrast', hook: 'blocks.1.hook_resid_post', positive: 'Love', negative: 'Hate', reduce: 'mean' });
    // The last position only, when asked.
    await fireEvent.change(screen.getByLabelText('Compare'), { target: { value: 'last' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Compute vector' }));
    await waitFor(() => expect(latest().origins['0']).toMatchObject({ reduce: 'last' }));
    expect(env.api.contrastVector).toHaveBeenLastCalledWith({ hook: 'blocks.1.hook_resid_post', positive: 'Love', negative: 'Hate', reduce: 'last' });
  });

  it('reads a vector file by the op’s hook name first, then as the file’s only vector', async () => {
    const readVectorFile = vi.fn(async ({ path, key }: { path: string; key?: string }) => {
      if (key !== undefined) throw new Error(`${path}: has no entry "${key}" (entries: other)`);
      return { vector: [0, 0, 1, 0], key: 'other', keys: ['other'] };
    });
    const { latest } = setup(newVariant('File'), editorEnv(fakeEditorApi({ readVectorFile })));
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await fireEvent.click(screen.getByLabelText('File'));
    await type('Vector file', '/data/v.safetensors');
    await fireEvent.click(screen.getByRole('button', { name: 'Read vector' }));
    await waitFor(() => expect(latest().interventions[0]).toMatchObject({ vector: [0, 0, 1, 0] }));
    expect(readVectorFile.mock.calls.map(([request]) => request)).toEqual([{ path: '/data/v.safetensors', key: 'blocks.1.hook_resid_post' }, { path: '/data/v.safetensors' }]);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('offers the entries a vector file error lists, and reads the one picked', async () => {
    const keys = ['happy', 'sad'];
    const readVectorFile = vi.fn(async ({ path, key }: { path: string; key?: string }) => {
      if (key === 'sad') return { vector: [0, 1, 0, 0], key, keys };
      if (key !== undefined) throw new ApiError('bad_argument', `${path}: has no entry "${key}" (entries: happy, sad)`, { keys });
      throw new ApiError('bad_argument', `${path}: holds 2 vectors (happy, sad); choose one by key`, { keys });
    });
    const { latest } = setup(newVariant('File'), editorEnv(fakeEditorApi({ readVectorFile })));
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await fireEvent.click(screen.getByLabelText('File'));
    await type('Vector file', '/data/two.json');
    await fireEvent.click(screen.getByRole('button', { name: 'Read vector' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('holds 2 vectors'));
    const select = screen.getByLabelText('Key', { exact: true }) as HTMLSelectElement;
    expect([...select.options].filter((option) => !option.disabled).map((option) => option.value)).toEqual(keys);
    await fireEvent.change(select, { target: { value: 'sad' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Read vector' }));
    await waitFor(() => expect(latest().interventions[0]).toMatchObject({ vector: [0, 1, 0, 0] }));
    expect(readVectorFile).toHaveBeenLastCalledWith({ path: '/data/two.json', key: 'sad' });
    expect(latest().origins['0']).toEqual({ kind: 'file', path: '/data/two.json', key: 'sad' });
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('builds a neuron clamp as a set op at blocks.L.mlp.hook_post', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Neuron clamp' }));
    await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: '3' } });
    await type('Neuron ids', '1, 4-6');
    await type('Clamp values', '2.5');
    expect(latest().interventions).toEqual([{ op: 'set', hook: 'blocks.3.mlp.hook_post', indices: [1, 4, 5, 6], values: [2.5], positions: 'all' }]);

    await fireEvent.change(screen.getByLabelText('Positions'), { target: { value: 'last' } });
    expect(latest().interventions[0]).toMatchObject({ positions: 'last' });
  });

  it('builds a head ablation as a scale op at blocks.L.attn.hook_z with values [0]', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Head ablation' }));
    await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: '1' } });
    await fireEvent.click(screen.getByLabelText('Head 3'));
    await fireEvent.click(screen.getByLabelText('Head 0')); // head 0 starts selected: this clears it
    await fireEvent.click(screen.getByLabelText('Head 2'));
    expect(latest().interventions).toEqual([{ op: 'scale', hook: 'blocks.1.attn.hook_z', indices: [2, 3], values: [0], positions: 'all' }]);
  });

  it('builds a layer schedule from the block strip (skip and repeat)', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Layer schedule' }));
    expect(latest().interventions).toEqual([{ op: 'schedule', blocks: [0, 1, 2, 3, 4] }]);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove block 2 at step 3' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Append block 1' }));
    expect(latest().interventions).toEqual([{ op: 'schedule', blocks: [0, 1, 3, 4, 1] }]);
    expect(screen.getByText(/Skips 2\./)).toBeTruthy();
    expect(screen.getByText(/Repeats 1\./)).toBeTruthy();
  });

  it('builds a patch from another prompt, tokenized by the engine', async () => {
    const { latest, env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Activation patch' }));
    await type('Source prompt', 'a b c');
    await fireEvent.click(screen.getByRole('button', { name: 'Tokenize' }));
    await waitFor(() => expect(latest().interventions[0]).toEqual({ op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: 'all', source: { prompt_ids: [10, 11, 12] } }));
    expect(env.api.tokenize).toHaveBeenCalledWith({ text: 'a b c', chat: false });
  });

  it('warns when a patch over all positions has a source prompt of another length, and offers the aligned positions', async () => {
    // The experiment's prompt is 4 tokens ('Once upon a time' in the fake tokenizer); the source is 6.
    const { latest, env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Activation patch' }));
    await type('Source prompt', 'a b c d e f');
    await fireEvent.click(screen.getByRole('button', { name: 'Tokenize' }));
    const warning = await screen.findByText(/generated at positions 4–5 would take the source prompt's activations/);
    expect(warning.textContent).toMatch(/source prompt has 6 tokens and the prompt 4 tokens/);
    expect(env.api.tokenize).toHaveBeenCalledWith({ text: 'Once upon a time', chat: false });
    await fireEvent.click(screen.getByRole('button', { name: 'Patch positions 0-3 only' }));
    await waitFor(() => expect(latest().interventions[0]).toMatchObject({ op: 'patch', positions: [0, 1, 2, 3] }));
    expect(screen.queryByText(/would take the source prompt's activations/)).toBeNull();
  });

  it('does not warn about a patch source as long as the prompt', async () => {
    const { env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Activation patch' }));
    await type('Source prompt', 'w x y z');
    await fireEvent.click(screen.getByRole('button', { name: 'Tokenize' }));
    await waitFor(() => expect(env.api.tokenize).toHaveBeenCalledWith({ text: 'Once upon a time', chat: false }));
    await vi.mocked(env.api.tokenize).mock.results.at(-1)?.value; // its answer has arrived
    await screen.findByLabelText('Source tokens');
    expect(screen.queryByText(/Over all positions/)).toBeNull();
  });

  it('flags unreadable input inline, keeps it out of the variant and does not call the variant valid', async () => {
    const { latest, changes } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Neuron clamp' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/Valid for/));
    const before = changes.length;
    await type('Neuron ids', '3, x');
    expect(screen.getByText('“x” is not a non-negative integer or a range like 3-7')).toBeTruthy();
    expect(screen.getByLabelText('Neuron ids').getAttribute('aria-invalid')).toBe('true');
    expect(changes.length).toBe(before);
    expect(latest().interventions[0]).toMatchObject({ indices: [0] });
    expect(screen.getByRole('status').textContent).toMatch(/1 field is not applied/);
    await type('Neuron ids', '3');
    expect(screen.getByRole('status').textContent).not.toMatch(/not applied/);
  });

  it('keeps an out-of-range neuron in the variant and marks the variant invalid', async () => {
    const { latest, env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Neuron clamp' }));
    await type('Neuron ids', '3, 9');
    expect(latest().interventions[0]).toMatchObject({ indices: [3, 9] });
    expect(screen.getByText('neuron 9 is out of range (0..7)')).toBeTruthy();
    expect(screen.getByLabelText('Neuron ids').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByRole('status').textContent).toMatch(/1 problem/);
    expect(env.api.validateVariant).not.toHaveBeenCalledWith({ variant: latest() });
  });

  it('flags a steering op with no vector yet, without asking the engine', async () => {
    const { env } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    expect(screen.getByText(/no vector yet/)).toBeTruthy();
    expect(screen.getByRole('status').textContent).toMatch(/1 problem/);
    expect(env.api.validateVariant).not.toHaveBeenCalled();
  });

  it('shows the engine’s validation issues next to the field they name', async () => {
    const validateVariant = vi.fn(async ({ variant }: { variant: unknown }) => {
      const v = variant as Variant;
      return { issues: v.interventions.length > 0 ? [{ path: 'interventions[0].indices[0]', message: '7 is out of range: blocks.0.mlp.hook_post has 6 neurons' }] : [] };
    });
    setup(newVariant('Clamp'), editorEnv(fakeEditorApi({ validateVariant })));
    await fireEvent.click(screen.getByRole('button', { name: '+ Neuron clamp' }));
    const card = screen.getByRole('article', { name: /Intervention 1/ });
    await waitFor(() => expect(within(card).getByText('7 is out of range: blocks.0.mlp.hook_post has 6 neurons')).toBeTruthy());
    expect(within(card).getByLabelText('Neuron ids').getAttribute('aria-invalid')).toBe('true');
    expect(validateVariant).toHaveBeenCalled();
  });

  it('removes and reorders interventions, carrying vector origins with them', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Neuron clamp' }));
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await type('Token text', 'do');
    await fireEvent.click(screen.getByRole('button', { name: 'Use embedding' }));
    await waitFor(() => expect(latest().origins['1']).toMatchObject({ kind: 'embedding' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Move intervention 2 up' }));
    expect(latest().interventions.map((step) => step.op)).toEqual(['add', 'set']);
    expect(Object.keys(latest().origins)).toEqual(['0']);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove intervention 1' }));
    expect(latest().interventions.map((step) => step.op)).toEqual(['set']);
    expect(latest().origins).toEqual({});
  });

  it('switches decoding strategy to LFD and DoLa with their defaults', async () => {
    const { latest } = setup();
    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'lfd' } });
    expect(latest().decoding).toEqual({ strategy: 'lfd', fusion: 'logprob', lambda: 0.5, plausibilityAlpha: null, applyFinalNorm: true });
    await type('Candidate layers', '3-4');
    await type('Lambda', '0.25');
    expect(latest().decoding).toMatchObject({ candidateLayers: [3, 4], lambda: 0.25 });
    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'dola' } });
    expect(latest().decoding).toEqual({ strategy: 'dola', layers: 'high', alpha: 0.1, prematureFinalNorm: false, repetitionPenalty: 1.2 });
  });

  it('toggles the final norm of LFD’s candidate layers and DoLa’s premature layers, each with its default and a hint', async () => {
    const { latest } = setup();
    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'lfd' } });
    const lfdNorm = screen.getByRole('checkbox', { name: 'Apply the final norm to intermediate layers', description: /ln_final runs before the unembedding/ }) as HTMLInputElement;
    expect(lfdNorm.checked).toBe(true);
    await fireEvent.click(lfdNorm);
    expect(latest().decoding).toMatchObject({ strategy: 'lfd', applyFinalNorm: false });
    await fireEvent.click(lfdNorm);
    expect(latest().decoding).toMatchObject({ strategy: 'lfd', applyFinalNorm: true });

    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'dola' } });
    expect(screen.queryByRole('checkbox', { name: 'Apply the final norm to intermediate layers' })).toBeNull();
    const dolaNorm = screen.getByRole('checkbox', { name: 'Apply the final norm to premature layers', description: /as Hugging Face/ }) as HTMLInputElement;
    expect(dolaNorm.checked).toBe(false);
    await fireEvent.click(dolaNorm);
    expect(latest().decoding).toMatchObject({ strategy: 'dola', prematureFinalNorm: true });
  });

  it('shows the engine’s answer about LFD’s final layer beside the field (decoding rules live in the engine only)', async () => {
    const message = 'LFD candidate layer 5 is outside 1..4: layer 5 is the final layer it fuses with, and layer 0 has no block to score';
    const validateVariant = vi.fn(async ({ variant }: { variant: Variant }) => ({
      issues: variant.decoding.strategy === 'lfd' && variant.decoding.candidateLayers?.includes(5) ? [{ path: 'decoding.candidateLayers[1]', message }] : [],
    }));
    const { latest } = setup(newVariant('v'), editorEnv(fakeEditorApi({ validateVariant })));
    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'lfd' } });
    await type('Candidate layers', '4-5');
    expect(latest().decoding).toMatchObject({ candidateLayers: [4, 5] });
    expect(await screen.findByText(message)).toBeTruthy();
    expect(validateVariant).toHaveBeenCalledWith({ variant: latest() });
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/1 problem/));
  });

  it('renames the variant and flags an empty name', async () => {
    const { latest } = setup();
    await type('Variant name', 'Happy');
    expect(latest().name).toBe('Happy');
    await type('Variant name', '');
    expect(screen.getByText('must not be empty')).toBeTruthy();
  });

  it('says when no model is loaded', () => {
    setup(newVariant('x'), editorEnv(fakeEditorApi(), null));
    expect(screen.getByText('Load a model to check this variant against it.')).toBeTruthy();
    expect(MODEL.nLayers).toBe(5);
  });

  it('turns a pasted JSON op that a form describes into that form when the field is left, filling in defaults', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ JSON op' }));
    const json = screen.getByLabelText('Intervention JSON');
    // No positions: the steering form used to format undefined and throw.
    await fireEvent.input(json, { target: { value: '{"op":"add","hook":"blocks.9.hook_resid_post","vector":[1,2,3,4],"scale":1}' } });
    // Still JSON while it is being typed: the textarea does not turn into a form under the cursor.
    expect(screen.getByLabelText('Intervention JSON')).toBeTruthy();
    await fireEvent.blur(json);
    expect(latest().interventions).toEqual([{ op: 'add', hook: 'blocks.9.hook_resid_post', vector: [1, 2, 3, 4], scale: 1, positions: 'all' }]);
    const card = screen.getByRole('article', { name: /Intervention 1: Steering vector/ });
    expect(within(card).getByLabelText('Positions')).toBeTruthy();
    // The model has blocks 0..4: flagged at once, and the variant is not called valid.
    expect(within(card).getByText('block 9 is out of range (0..4)')).toBeTruthy();
    expect(screen.getByRole('status').textContent).toMatch(/1 problem/);
  });

  it('keeps a JSON op of the wrong shape in the editor, out of the variant, and says what is wrong', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ JSON op' }));
    const before = latest().interventions;
    const json = screen.getByLabelText('Intervention JSON');
    await fireEvent.input(json, { target: { value: '{"op":"add","hook":"blocks.1.hook_resid_post","vector":"oops"}' } });
    await fireEvent.blur(json);
    expect(screen.getByText('vector: expected array, received string')).toBeTruthy();
    expect(json.getAttribute('aria-invalid')).toBe('true');
    expect(latest().interventions).toEqual(before);
    expect(screen.getByRole('status').textContent).toMatch(/1 field is not applied/);
  });

  it('applies a JSON op that no form describes as it is typed', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ JSON op' }));
    await fireEvent.input(screen.getByLabelText('Intervention JSON'), { target: { value: '{"op":"lens","layers":[1,7]}' } });
    expect(latest().interventions).toEqual([{ op: 'lens', layers: [1, 7] }]);
    expect(screen.getByText('layers.1: block 7 is out of range (0..4)')).toBeTruthy();
  });

  it('shows the engine’s warnings in amber, apart from problems, and still calls the variant runnable', async () => {
    const validateVariant = vi.fn(async () => ({
      issues: [
        { path: 'interventions[0]', message: 'blocks.0.mlp.hook_post is in block 0, which the schedule skips: no effect', severity: 'warning' as const },
        { path: 'decoding.layers[1]', message: 'layer 7 is not a premature layer of this 5-block model (0..4): ignored, as Hugging Face does', severity: 'warning' as const },
      ],
    }));
    setup(newVariant('Warned'), editorEnv(fakeEditorApi({ validateVariant })));
    await fireEvent.click(screen.getByRole('button', { name: '+ Neuron clamp' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/⚠ Runs on LlamaForCausalLM, with 2 warnings/));
    expect(screen.getByRole('status').textContent).not.toMatch(/problem|Valid/);
    const card = screen.getByRole('article', { name: /Intervention 1/ });
    const warning = within(card).getByText('blocks.0.mlp.hook_post is in block 0, which the schedule skips: no effect');
    expect(warning.className).toContain('warning');
    expect(card.className).toContain('warned');
    expect(card.className).not.toContain('invalid');
    expect(screen.getByText(/layers\.1: layer 7 is not a premature layer/).className).toContain('warning');
  });

  it('warns in the header when a contrast vector was measured at another hook than the op’s', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await fireEvent.click(screen.getByLabelText('Contrast pair'));
    await type('Positive prompt', 'Love');
    await type('Negative prompt', 'Hate');
    await fireEvent.click(screen.getByRole('button', { name: 'Compute vector' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/Valid for/));
    await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: '3' } });
    expect(latest().interventions[0]).toMatchObject({ hook: 'blocks.3.hook_resid_post' });
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/with 1 warning/));
    expect(screen.getByText('measured at blocks.1.hook_resid_post, not at blocks.3.hook_resid_post: compute it again for this hook').className).toContain('warning');
  });

  it('clears the key found in the last file when the path changes, and flags a failed read that left the old vector', async () => {
    const readVectorFile = vi.fn(async ({ path, key }: { path: string; key?: string }) => {
      if (path === '/data/a.safetensors') return { vector: [0, 0, 1, 0], key: 'blocks.1.hook_resid_post', keys: ['blocks.1.hook_resid_post'] };
      throw new ApiError('bad_argument', `${path}: has no entry "${key}"`);
    });
    const { latest } = setup(newVariant('File'), editorEnv(fakeEditorApi({ readVectorFile })));
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await fireEvent.click(screen.getByLabelText('File'));
    await type('Vector file', '/data/a.safetensors');
    await fireEvent.click(screen.getByRole('button', { name: 'Read vector' }));
    await waitFor(() => expect(latest().interventions[0]).toMatchObject({ vector: [0, 0, 1, 0] }));
    expect((screen.getByLabelText('Key (optional)') as HTMLInputElement).value).toBe('blocks.1.hook_resid_post');

    await type('Vector file', '/data/b.json');
    expect((screen.getByLabelText('Key (optional)') as HTMLInputElement).value).toBe('');
    await fireEvent.click(screen.getByRole('button', { name: 'Read vector' }));
    // No key: the op's hook first, then the file's only vector.
    await waitFor(() => expect(screen.getByRole('alert')).toBeTruthy());
    expect(readVectorFile).toHaveBeenLastCalledWith({ path: '/data/b.json' });
    expect(screen.getByLabelText('Vector summary').textContent).toMatch(/Still the previous vector: the last read failed/);
    expect(screen.getByRole('status').textContent).toMatch(/1 field is not applied/);
  });

  it('drops a vector that arrives after its intervention was removed', async () => {
    let release: (value: { vector: number[] }) => void = () => {};
    const contrastVector = vi.fn(() => new Promise<{ vector: number[] }>((resolve) => (release = resolve)));
    const { latest } = setup(newVariant('Late'), editorEnv(fakeEditorApi({ contrastVector })));
    await fireEvent.click(screen.getByRole('button', { name: '+ Steering vector' }));
    await fireEvent.click(screen.getByLabelText('Contrast pair'));
    await type('Positive prompt', 'a');
    await type('Negative prompt', 'b');
    await fireEvent.click(screen.getByRole('button', { name: 'Compute vector' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Remove intervention 1' }));
    release({ vector: [1, 1, 0, 0] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // It used to write the op back (replaceIntervention at its old index).
    expect(latest().interventions).toEqual([]);
    expect(latest().origins).toEqual({});
  });

  it('keeps a patch’s source prompt text with the variant and shows it again when reopened', async () => {
    const { latest, unmount } = setup();
    await fireEvent.click(screen.getByRole('button', { name: '+ Activation patch' }));
    await type('Source prompt', 'a b c');
    await fireEvent.click(screen.getByRole('button', { name: 'Tokenize' }));
    await waitFor(() => expect(latest().origins['0']).toEqual({ kind: 'patch-source', text: 'a b c' }));
    const saved = latest();
    unmount();
    setup(saved);
    expect((screen.getByLabelText('Source prompt') as HTMLInputElement).value).toBe('a b c');
  });

  it('says a decoding-only variant leaves the model as it is but decodes differently', async () => {
    setup();
    expect(screen.getByText('No interventions: this variant runs the unmodified model.')).toBeTruthy();
    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'dola' } });
    expect(screen.getByText(/No interventions: the model's weights and activations are unmodified; only the decoding \(DoLa\) differs/)).toBeTruthy();
    await fireEvent.change(screen.getByLabelText('Decoding strategy'), { target: { value: 'lfd' } });
    expect(screen.getByText(/only the decoding \(LFD\) differs/)).toBeTruthy();
    // No reference to a file users do not have.
    expect(screen.getByText(/exact scoring formula is not verified/).textContent).not.toMatch(/METHODS/);
  });
});
