/**
 * The Workbench called directly (the socket tests cover the same calls over the wire):
 * what needs a model and what does not, contrast vectors, variant validation against the
 * model, and experiment files with the recent list and the autosave.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { Engine, ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { experimentSchema, type Experiment } from '../experiment/schema';
import type { WorkbenchEvent } from './protocol';
import { Workbench } from './workbench';

const dir = mkdtempSync(join(tmpdir(), 'tiller-workbench-'));
const appDataDir = join(dir, 'app-data');
let workbench: Workbench;
const events: WorkbenchEvent[] = [];

beforeAll(() => {
  workbench = new Workbench({ appDataDir, engine: { cacheDir: join(dir, 'cache') }, transport: 'ipc', nativeDialogs: true });
  workbench.onEvent((event) => events.push(event));
});

afterAll(async () => {
  await workbench.close();
  rmSync(dir, { recursive: true, force: true });
});

function experiment(name: string): Experiment {
  return experimentSchema.parse({
    format: 'tiller-experiment',
    version: 1,
    name,
    createdAt: '2025-01-02T03:04:05.000Z',
    updatedAt: '2025-01-02T03:04:05.000Z',
    model: null,
    prompt: { text: 'Once upon a time' },
    settings: { maxNewTokens: 8 },
    variants: [
      { id: 'baseline', name: 'Baseline' },
      { id: 'steer', name: 'Steer', interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: Array.from({ length: 64 }, (_, i) => i / 64), scale: 2 }] },
    ],
  });
}

/** Generate a few tokens with the loaded model and wait for the run's results. */
async function generateText(): Promise<string> {
  const { runId } = await workbench.generate({ prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 4 }, variants: [{ id: 'a', name: 'A' }] });
  const done = await vi.waitFor(() => {
    const event = events.find((item) => item.type === 'done' && item.runId === runId);
    if (event?.type !== 'done') throw new Error(`run ${runId} has not finished`);
    return event;
  });
  return done.results.variants[0].text;
}

describe('Workbench without a model', () => {
  it('reports its status, transport and dialogs; pickPath has no dialog to show', async () => {
    const status = await workbench.status({});
    expect(status).toEqual({ state: 'idle', model: null, error: null, transport: 'ipc', nativeDialogs: true, defaultDir: expect.any(String) });
    // Save As suggests a file there, and the engine takes absolute paths only.
    expect(isAbsolute(status.defaultDir)).toBe(true);
    expect(await workbench.restartEngine({})).toMatchObject({ state: 'idle' });
    expect(await workbench.pickPath({ kind: 'model-folder' })).toBeNull();
  });

  it('refuses model calls with a clear error', async () => {
    await expectEngineError(() => workbench.listHooks({}), 'bad_argument', 'no model is loaded');
    await expectEngineError(() => workbench.tokenize({ text: 'x' }), 'bad_argument', 'no model is loaded');
    await expectEngineError(() => workbench.generate({ prompt: { text: 'x' }, settings: {}, variants: [{ id: 'a', name: 'A' }] }), 'bad_argument', 'no model is loaded');
  });

  it('validates its own requests for direct callers, naming the field', async () => {
    await expectEngineError(() => workbench.loadModel({ path: 42 } as never), 'bad_argument', 'loadModel', 'path');
    // A relative path would land in the engine's working directory, which the user never sees.
    await expectEngineError(() => workbench.saveExperiment({ path: 'sweep.tiller.json', experiment: experiment('relative') }), 'bad_argument', 'path', 'absolute');
    expect(existsSync(join(process.cwd(), 'sweep.tiller.json'))).toBe(false);
  });

  it('checks a variant against the schema only', async () => {
    expect(await workbench.validateVariant({ variant: { id: 'v', name: 'V', interventions: [{ op: 'add', hook: 'blocks.99.hook_resid_post', vector: [1] }] } })).toEqual({ issues: [] });
    const { issues } = await workbench.validateVariant({ variant: { id: 'v', name: '', interventions: [{ op: 'add', hook: 'x', vector: [] }] } });
    expect(issues.map((issue) => issue.path).sort()).toEqual(['interventions.0.vector', 'name']);
  });

  it('reports a failed load in its status and stays usable', async () => {
    await expectEngineError(() => workbench.loadModel({ path: join(dir, 'no-such-model') }), 'not_found', 'no-such-model');
    const status = await workbench.status({});
    expect(status).toMatchObject({ state: 'idle', model: null, error: { code: 'not_found' } });
  });
});

describe('Workbench with stories260K', () => {
  beforeAll(async () => {
    await workbench.loadModel({ path: sharedPath('models', 'stories260K-hf') });
  });

  it('clears the previous load error once a model loads', async () => {
    expect((await workbench.status({})).error).toBeNull();
  });

  it('makes a contrast vector: the difference of the mean over each prompt\'s tokens, or of the last position', async () => {
    const { vector } = await workbench.contrastVector({ hook: 'blocks.2.hook_resid_post', positive: 'She was happy', negative: 'She was sad' });
    expect(vector).toHaveLength(64);
    expect(vector.some((value) => Math.abs(value) > 1e-3)).toBe(true);
    // The same difference computed from captures: BOS is left out of each mean.
    const handle = (workbench as unknown as { loaded: { handle: ModelHandle } }).loaded.handle;
    const rows = async (text: string): Promise<number[][]> => {
      const capture = (await handle.run(handle.tokenizer.encode(text), { captures: [{ hook: 'blocks.2.hook_resid_post', positions: 'all' }] })).captures['blocks.2.hook_resid_post'];
      return Array.from({ length: capture.shape[0] }, (_, p) => Array.from(capture.data.subarray(p * 64, (p + 1) * 64)));
    };
    const mean = (list: number[][]): number[] => list[0].map((_, i) => list.reduce((sum, row) => sum + row[i], 0) / list.length);
    const [happy, sad] = [await rows('She was happy'), await rows('She was sad')];
    const expected = mean(happy.slice(1)).map((value, i) => value - mean(sad.slice(1))[i]);
    expect(Math.max(...vector.map((value, i) => Math.abs(value - expected[i])))).toBeLessThan(1e-5);
    const last = await workbench.contrastVector({ hook: 'blocks.2.hook_resid_post', positive: 'She was happy', negative: 'She was sad', reduce: 'last' });
    const expectedLast = happy.at(-1)!.map((value, i) => value - sad.at(-1)![i]);
    expect(Math.max(...last.vector.map((value, i) => Math.abs(value - expectedLast[i])))).toBeLessThan(1e-5);
    const same = await workbench.contrastVector({ hook: 'blocks.2.hook_resid_post', positive: 'She was happy', negative: 'She was happy' });
    expect(same.vector.every((value) => value === 0)).toBe(true);
    // MLP neurons are a vector per position too ([pos, d_mlp]).
    expect((await workbench.contrastVector({ hook: 'blocks.1.mlp.hook_post', positive: 'a', negative: 'b' })).vector).toHaveLength(172);
  });

  it('refuses contrast vectors at hooks without one vector per position', async () => {
    await expectEngineError(() => workbench.contrastVector({ hook: 'blocks.0.attn.hook_pattern', positive: 'a', negative: 'b' }), 'bad_argument', 'blocks.0.attn.hook_pattern', '[head, q_pos, k_pos]');
    await expectEngineError(() => workbench.contrastVector({ hook: 'blocks.7.hook_resid_post', positive: 'a', negative: 'b' }), 'bad_argument', 'blocks.7.hook_resid_post');
  });

  it('checks a variant against the model, with dotted paths', async () => {
    const { issues } = await workbench.validateVariant({
      variant: {
        id: 'v',
        name: 'V',
        interventions: [
          { op: 'add', hook: 'blocks.9.hook_resid_post', vector: [1] },
          { op: 'add', hook: 'blocks.1.hook_resid_post', vector: [1, 2] },
          { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [171, 172], values: [0] },
        ],
        decoding: { strategy: 'lfd', candidateLayers: [2, 5] },
      },
    });
    expect(issues.map((issue) => issue.path)).toEqual(['interventions.0.hook', 'interventions.1.vector', 'interventions.2.indices.1', 'decoding.candidateLayers.1']);
    expect(issues[1].message).toContain('needs d_model = 64');
    expect(await workbench.validateVariant({ variant: experiment('ok').variants[1] })).toEqual({ issues: [] });
  });

  it('reports the graphs compiled for the plans run so far, and their memory bound', async () => {
    const before = (await workbench.status({})).model!.compiled;
    expect(before.graphs).toBeGreaterThanOrEqual(1); // the plain forward pass
    const { runId } = await workbench.generate({ prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 2 }, variants: experiment('plans').variants });
    await vi.waitFor(() => expect(events.some((event) => event.type === 'done' && event.runId === runId)).toBe(true));
    const after = (await workbench.status({})).model!.compiled;
    expect(after.graphs).toBeGreaterThan(before.graphs);
    expect(after.estimatedBytes).toBeGreaterThan(before.estimatedBytes);
  });

  it('regenerates only one variant (beside the baseline) with the tokens a full run gives it, leaving the others unchecked', async () => {
    const finished = async (runId: string) => {
      const done = await vi.waitFor(() => {
        const event = events.find((item) => item.type === 'done' && item.runId === runId);
        if (event?.type !== 'done') throw new Error(`run ${runId} has not finished`);
        return event;
      });
      return done.results;
    };
    const [baseline, steer] = experiment('only').variants;
    const full = await workbench.generate({ prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 4 }, variants: [baseline, steer] });
    expect(full.variantIds).toEqual(['baseline', 'steer']);
    const fullResults = await finished(full.runId);
    // Each token carries every block's lens reading (internal consistency); greedy: the last block's is the token itself.
    for (const token of fullResults.variants[0].tokens) expect([token.lensTop1?.length, token.lensTop1?.[4]]).toEqual([5, token.id]);
    expect(events.some((event) => event.type === 'token' && event.runId === full.runId && event.token.lensTop1 !== undefined)).toBe(false);
    // A third variant that cannot run does not stop the one asked for.
    const broken = { ...steer, id: 'broken', name: 'Broken', interventions: [{ op: 'add' as const, hook: 'blocks.9.hook_resid_post', vector: [1] }] };
    const one = await workbench.generate({ prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 4 }, variants: [baseline, broken, steer], only: 'steer' });
    expect(one.variantIds).toEqual(['baseline', 'steer']);
    const oneResults = await finished(one.runId);
    expect(oneResults.variants.map((variant) => [variant.variantId, variant.text])).toEqual(fullResults.variants.map((variant) => [variant.variantId, variant.text]));
    expect(oneResults.variants[1].tokens).toEqual(fullResults.variants[1].tokens);
    expect(events.filter((event) => event.type === 'token' && event.runId === one.runId).every((event) => event.type === 'token' && event.variant < 2)).toBe(true);
    const alone = await workbench.generate({ prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 2 }, variants: [baseline, broken], only: 'baseline' });
    expect(alone.variantIds).toEqual(['baseline']);
    await finished(alone.runId);
    await expectEngineError(() => workbench.generate({ prompt: { text: 'x' }, settings: {}, variants: [baseline], only: 'gone' }), 'bad_argument', 'no variant has the id "gone"');
  });

  it('runs no lens pass with internal consistency off, and reads each variant\'s answer over the answer set when given one', async () => {
    const results = async (consistency: object) => {
      const { runId } = await workbench.generate({ prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 4 }, consistency, variants: experiment('consistency').variants });
      const done = await vi.waitFor(() => {
        const event = events.find((item) => item.type === 'done' && item.runId === runId);
        if (event?.type !== 'done') throw new Error(`run ${runId} has not finished`);
        return event;
      });
      return done.results;
    };
    const lensPasses = vi.spyOn(ModelHandle.prototype, 'runLenses');
    try {
      const off = await results({ enabled: false, answers: [' there'] });
      expect(lensPasses).not.toHaveBeenCalled();
      expect(off.variants.flatMap((variant) => variant.tokens).some((token) => token.lensTop1 !== undefined)).toBe(false);
      expect(off.variants.some((variant) => variant.answerConsistency !== undefined)).toBe(false);
      // On with an answer set: " there" is the baseline's second token (", there was"); one pass for the
      // readings per variant, and one at the answer of each that gives one (the steered one does not).
      const on = await results({ enabled: true, fromLayer: 'middle', answers: [' there', ' here'] });
      const [baseline, steered] = on.variants;
      expect(steered.answerConsistency?.at).toBeNull();
      expect(steered.answerConsistency?.warnings.at(-1)).toContain('the response never emits an answer token');
      expect(lensPasses).toHaveBeenCalledTimes(3);
      expect(baseline.tokens.every((token) => token.lensTop1?.length === 5)).toBe(true);
      expect(baseline.answerConsistency?.at?.index).toBe(1);
      expect(baseline.answerConsistency?.at?.readings[4]).toBe(baseline.tokens[1].id); // greedy: the last block says the answer
      expect(baseline.answerConsistency?.answerTexts[0]).toBe('▁there');
    } finally {
      lensPasses.mockRestore();
    }
    await expectEngineError(() => workbench.generate({ prompt: { text: 'x' }, settings: {}, consistency: { answers: [' there', '#383'] }, variants: [{ id: 'a', name: 'A' }] }), 'bad_argument', 'are the same token');
  });

  it('keeps the loaded model when a new path does not exist or is not a model', async () => {
    const before = await generateText();
    const loaded = (await workbench.status({})).model;
    await expectEngineError(() => workbench.loadModel({ path: join(dir, 'typo-model') }), 'not_found', 'typo-model', 'does not exist');
    expect(await workbench.status({})).toMatchObject({ state: 'idle', model: loaded, error: { code: 'not_found' } });
    expect(await generateText()).toBe(before);

    const broken = join(dir, 'broken-model');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'config.json'), '{ not json');
    await expectEngineError(() => workbench.loadModel({ path: broken }), 'bad_config', 'config.json');
    expect((await workbench.status({})).model).toEqual(loaded);
    expect(await generateText()).toBe(before);
  });

  it('loads the previous model back when a checked model still fails to build', async () => {
    const loaded = (await workbench.status({})).model;
    const build = vi.spyOn(Engine.prototype, 'loadOpened').mockImplementationOnce(async (opened) => {
      opened.weights.close();
      throw new EngineError('runtime_error', 'onnxruntime refused the graph');
    });
    try {
      await expectEngineError(() => workbench.loadModel({ path: sharedPath('models', 'stories260K', 'stories260K.bin') }), 'runtime_error', 'onnxruntime refused the graph');
    } finally {
      build.mockRestore();
    }
    // Loaded afresh, so no plan graphs compiled yet: the same model otherwise.
    expect(await workbench.status({})).toMatchObject({ model: { ...loaded, compiled: { graphs: 1 } }, error: { code: 'runtime_error' } });
    expect((await generateText()).length).toBeGreaterThan(0);
  });

  it('unloads, after which model calls are refused again', async () => {
    await workbench.unloadModel({});
    expect((await workbench.status({})).model).toBeNull();
    await expectEngineError(() => workbench.listHooks({}), 'bad_argument', 'no model is loaded');
  });
});

describe('Workbench experiments', () => {
  it('saves and opens experiments, keeping the recent list', async () => {
    const first = join(dir, 'first.tiller.json');
    const second = join(dir, 'second.tiller.json');
    expect(await workbench.saveExperiment({ path: first, experiment: experiment('First') })).toEqual({ path: first, warnings: [] });
    await workbench.saveExperiment({ path: second, experiment: experiment('Second') });
    const opened = await workbench.openExperiment({ path: first });
    expect(opened).toEqual({ path: first, experiment: experiment('First'), warnings: [] });
    const recent = await workbench.listRecent({});
    expect(recent.map((entry) => [entry.name, entry.path])).toEqual([
      ['First', first],
      ['Second', second],
    ]);
  });

  // Issue 11 item 12: every new experiment was "Untitled experiment" in the file and the recent list.
  it('names an experiment from its file when it still has the default name', async () => {
    const path = join(dir, 'sweep.tiller.json');
    await workbench.saveExperiment({ path, experiment: experiment('Untitled experiment') });
    expect((await workbench.openExperiment({ path })).experiment.name).toBe('sweep');
    expect((await workbench.listRecent({}))[0]).toMatchObject({ name: 'sweep', path });
  });

  it('drops a recent file that no longer exists from the list when it fails to open', async () => {
    const gone = join(dir, 'gone.tiller.json');
    await workbench.saveExperiment({ path: gone, experiment: experiment('Gone') });
    rmSync(gone);
    await expectEngineError(() => workbench.openExperiment({ path: gone }), 'not_found');
    expect((await workbench.listRecent({})).map((entry) => entry.path)).not.toContain(gone);
  });

  it('keeps an autosave until it is cleared', async () => {
    expect(await workbench.recoverAutosave({})).toBeNull();
    await workbench.autosave({ experiment: experiment('Unsaved') });
    expect(await workbench.recoverAutosave({})).toEqual({ experiment: experiment('Unsaved'), path: null });
    // Work on a saved file comes back with that file, so Save writes to it again.
    const file = join(dir, 'kept.tiller.json');
    await workbench.autosave({ experiment: experiment('Edited'), path: file });
    expect(await workbench.recoverAutosave({})).toEqual({ experiment: experiment('Edited'), path: file });
    await workbench.autosave({ experiment: null });
    expect(await workbench.recoverAutosave({})).toBeNull();
    expect(existsSync(join(appDataDir, 'autosave', 'session.tiller.json'))).toBe(false);
    expect(existsSync(join(appDataDir, 'autosave', 'session.origin.json'))).toBe(false);
  });

  it('refuses an autosave origin that is not an absolute path', async () => {
    await expectEngineError(() => workbench.autosave({ experiment: experiment('Unsaved'), path: 'relative.tiller.json' }), 'bad_argument', 'path');
  });

  it('emitted a status event for every state change', () => {
    const states = events.flatMap((event) => (event.type === 'status' ? [event.status.state] : []));
    expect(states.slice(0, 4)).toEqual(['loading', 'idle', 'loading', 'idle']);
  });
});

describe('Workbench weight formats', () => {
  const stories = sharedPath('models', 'stories260K-hf');

  it('says what each format of a model needs before loading it, and proposes float32 for a small one', async () => {
    const memory = await workbench.modelMemory({ path: stories });
    expect(memory.recommended).toBe('f32');
    expect(memory.needs.int4).toBeLessThan(memory.needs.int8);
    expect(memory.needs.int8).toBeLessThan(memory.needs.f32);
    expect(memory.reason).toContain('float32 weights need about');
    await expectEngineError(() => workbench.modelMemory({ path: join(dir, 'no-such-model') }), 'not_found');
  });

  it('loads int8 weights with conversion progress events, and reports the format and cache size', async () => {
    const seen = events.length;
    const info = await workbench.loadModel({ path: stories, weights: { format: 'int8' } });
    expect(info.weights).toEqual({ format: 'int8', blockSize: 32, accuracyLevel: 4 });
    expect(info.cacheBytes).toBeGreaterThan(0);
    const conversions = events.slice(seen).filter((event) => event.type === 'conversion');
    expect(conversions.length).toBeGreaterThan(0);
    expect(conversions.at(-1)).toMatchObject({ path: stories, weights: 'int8-b32-a4' });
    await workbench.loadModel({ path: stories });
    expect((await workbench.status({})).model?.weights.format).toBe('f32');
  });
});
