/** The CLI as a user runs it: a real subprocess on the shared stories260K models. */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { internalConsistency } from '../engine/analysis/consistency';
import { Engine } from '../engine/engine';
import { loadHfTokenizer } from '../engine/model/tokenizer/hf';
import { consistencyOutputSchema } from '../../src-shared/consistency';
import { atlasCompareOutputSchema } from '../../src-shared/analysis-schema';
import { ROOT, runCli } from '../test/cli-process';
import { GEMMA2_CHAT_TEMPLATE } from '../test/fixtures/gemma-chat-templates';
import { GEMMA2_CONFIG } from '../test/fixtures/gemma2-config';
import type { HfConfig } from '../test/fixtures/fixture-families';
import { writePhi3Tokenizer } from '../test/fixtures/phi3-tokenizer';
import { buildRandomModel } from '../test/fixtures/random-model';
import { sharedPath } from '../test/shared-paths';

const cacheDir = mkdtempSync(join(tmpdir(), 'tiller-cli-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(cacheDir, ...args);

describe('cli', () => {
  it('tells the TinyStories story from the Hugging Face folder', async () => {
    const { code, stdout, stderr } = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '40');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Once upon a time, there was a little girl named Lily\. She loved to play outside in the park\./);
    expect(stderr).toMatch(/\[cpu\] 5 prompt \+ 40 generated tokens, [\d.]+ tok\/s/);
  });

  it('prints prompt and generated ids, text, speed and provider as JSON', async () => {
    const { code, stdout } = await cli('generate', '--model', sharedPath('models', 'stories260K', 'stories260K.bin'), '--prompt-ids', '1,403,407', '--max-new-tokens', '4', '--json');
    expect(code).toBe(0);
    const output = JSON.parse(stdout) as { ids: number[]; text: string; tokens_per_second: number; provider: string; tokens: { top: unknown[] }[] };
    expect(output.ids).toEqual([1, 403, 407, 261, 378, 432, 383]);
    expect(output.text).toBe(' a time, there');
    expect(output.provider).toBe('cpu');
    expect(output.tokens_per_second).toBeGreaterThan(0);
    expect(output.tokens[0].top).toHaveLength(5);
  });

  it('lists the hook points with their dims and sizes, as text and JSON', async () => {
    const text = await cli('hooks', '--model', sharedPath('models', 'stories260K-hf'));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^blocks\.3\.attn\.hook_z +\[pos=pos, head=8, d_head=8\] +set\/scale index: head 0\.\.7$/m);
    const json = await cli('hooks', '--model', sharedPath('models', 'stories260K-hf'), '--json');
    const hooks = JSON.parse(json.stdout) as { name: string; shape: unknown[] }[];
    expect(hooks.find((hook) => hook.name === 'blocks.1.mlp.hook_post')?.shape).toEqual(['pos', 172]);
    expect(hooks.at(-1)?.name).toBe('logits');
  });

  it('reports a generate plan\'s captures with each token: the prompt at the first, then the new token', async () => {
    const planFile = join(cacheDir, 'capture-plan.json');
    writeFileSync(planFile, JSON.stringify({ captures: [{ hook: 'blocks.1.hook_resid_post', positions: 'all' }] }));
    const { code, stdout } = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt-ids', '1,403,407', '--max-new-tokens', '3', '--plan', planFile, '--json');
    expect(code).toBe(0);
    const tokens = (JSON.parse(stdout) as { tokens: { captures: Record<string, number[][]> }[] }).tokens;
    expect(tokens.map((token) => token.captures['blocks.1.hook_resid_post'].length)).toEqual([3, 1, 1]);
    expect(tokens[0].captures['blocks.1.hook_resid_post'][0]).toHaveLength(64);
  });

  it("generates from a Gemma 2 model with --chat: the prompt is its chat template's user turn and the model turn's opening", async () => {
    // A random-weight Gemma 2 (Gemma2Config fixture) with TinyLlama's tokenizer and Gemma 2's chat template in its tokenizer_config.json.
    const dir = join(cacheDir, 'gemma2-chat');
    buildRandomModel(dir, { config: GEMMA2_CONFIG, tokenizer: 'TinyLlama__TinyLlama-1.1B-Chat-v1.0', layers: 2, dModel: 32, dMlp: 64, nHeads: 2, nKvHeads: 1, dHead: 16, seed: 9, dtype: 'BF16' });
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: GEMMA2_CHAT_TEMPLATE }));
    const { code, stdout } = await cli('generate', '--model', dir, '--prompt', 'Hi there', '--chat', '--max-new-tokens', '2', '--json');
    expect(code).toBe(0);
    const tokenizer = loadHfTokenizer(dir);
    const rendered = '<s><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n';
    const { ids } = JSON.parse(stdout) as { ids: number[] };
    expect(ids.slice(0, -2)).toEqual(tokenizer.encode(rendered, { addSpecialTokens: false }));
    expect(ids[0]).toBe(tokenizer.bosTokenId); // once: the template writes it, encoding adds none
    expect(ids[1]).not.toBe(tokenizer.bosTokenId);
  });

  it("generates from a Phi-3 model with --chat: its template's user turn and the assistant turn's opening, as Phi-3's chat tokens", async () => {
    // A random-weight Phi-3-mini-128k (config fixture, LongRoPE) with Phi-3's tokenizer (Llama-2's plus its chat tokens) and tokenizer_config.json.
    const dir = join(cacheDir, 'phi3-chat');
    const config = JSON.parse(readFileSync(join(ROOT, 'src-main', 'test', 'fixtures', 'phi3', 'Phi-3-mini-128k-instruct.config.json'), 'utf8')) as HfConfig;
    buildRandomModel(dir, { config, tokenizer: writePhi3Tokenizer, layers: 2, dModel: 32, dMlp: 64, nHeads: 2, nKvHeads: 2, dHead: 16, seed: 10, dtype: 'BF16' });
    const { code, stdout } = await cli('generate', '--model', dir, '--prompt', 'Hi there', '--chat', '--max-new-tokens', '2', '--json');
    expect(code).toBe(0);
    const { ids } = JSON.parse(stdout) as { ids: number[] };
    expect(ids.slice(0, -2)).toEqual(loadHfTokenizer(dir).encode('<|user|>\nHi there<|end|>\n<|assistant|>\n'));
    expect(ids.slice(0, -2).filter((id) => id >= 32000)).toEqual([32010, 32007, 32001]); // <|user|>, <|end|>, <|assistant|>
  });

  it('tokenizes with and without special tokens', async () => {
    const withBos = await cli('tokenize', '--model', sharedPath('models', 'stories260K-hf'), '--text', 'Once upon a time', '--json');
    expect(JSON.parse(withBos.stdout)).toEqual({ ids: [1, 403, 407, 261, 378] });
    const withoutBos = await cli('tokenize', '--model', sharedPath('models', 'stories260K-hf'), '--text', 'Once upon a time', '--no-special', '--json');
    expect(JSON.parse(withoutBos.stdout)).toEqual({ ids: [403, 407, 261, 378] });
  });

  it('runs one forward pass with a plan file: argmax per position, last logits and captures', async () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260k.json'), 'utf8')) as { prompt_ids: number[]; argmax_per_pos: number[]; resid_post_last_pos: number[][] };
    const planFile = join(cacheDir, 'plan.json');
    writeFileSync(planFile, JSON.stringify({ captures: [{ hook: 'blocks.4.hook_resid_post', positions: 'last' }] }));
    const { code, stdout } = await cli('run', '--model', sharedPath('models', 'stories260K-hf'), '--prompt-ids', golden.prompt_ids.join(','), '--plan', planFile);
    expect(code).toBe(0);
    const output = JSON.parse(stdout) as { argmax_per_pos: number[]; logits_last: number[]; captures: Record<string, number[][]> };
    expect(output.argmax_per_pos).toEqual(golden.argmax_per_pos);
    expect(output.logits_last).toHaveLength(512);
    const captured = output.captures['blocks.4.hook_resid_post'];
    expect(captured).toHaveLength(1);
    expect(Math.max(...captured[0].map((x, i) => Math.abs(x - golden.resid_post_last_pos[4][i])))).toBeLessThan(1e-4);
    writeFileSync(planFile, '{"captures": [');
    const malformed = await cli('run', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--plan', planFile);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('not valid JSON');
  });

  it('generates variants side by side from a --variants file, with the per-step layer of lens decoding in JSON', async () => {
    const variantsFile = join(cacheDir, 'variants.json');
    writeFileSync(
      variantsFile,
      JSON.stringify([
        {},
        { name: 'clamp', plan: { interventions: [{ op: 'set', hook: 'blocks.3.mlp.hook_post', indices: [1, 2, 3, 4, 5, 6, 7, 8], values: [6] }] } },
        { name: 'dola', decoding: { strategy: 'dola', layers: [2, 4] } },
      ]),
    );
    const { code, stdout } = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--variants', variantsFile, '--json');
    expect(code).toBe(0);
    const output = JSON.parse(stdout) as { variants: { name: string; decoding: string; text: string; tokens: { layer?: number }[] }[] };
    expect(output.variants.map((v) => [v.name, v.decoding])).toEqual([['baseline', 'greedy'], ['clamp', 'greedy'], ['dola', 'dola']]);
    expect(output.variants[0].text).toMatch(/^, there was a little girl/);
    expect(output.variants[1].text).not.toBe(output.variants[0].text);
    expect(output.variants[2].tokens.every((t) => t.layer === 2 || t.layer === 4)).toBe(true);
    expect(output.variants[0].tokens.every((t) => t.layer === undefined)).toBe(true);
  });

  it('generates with --plan and --decoding lfd --lambda 0 as greedy does', async () => {
    const planFile = join(cacheDir, 'steer.json');
    writeFileSync(planFile, JSON.stringify({ interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: Array(64).fill(0), positions: 'all' }] }));
    const greedy = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '10', '--json');
    const lfd = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '10', '--json', '--plan', planFile, '--decoding', 'lfd', '--lambda', '0');
    expect(lfd.code).toBe(0);
    const [a, b] = [greedy, lfd].map((r) => JSON.parse(r.stdout) as { ids: number[]; tokens: { layer?: number; layer_scores?: Record<string, number> }[] });
    expect(b.ids).toEqual(a.ids);
    expect(b.tokens.every((t) => t.layer === 3 || t.layer === 4)).toBe(true); // latter half of 5 blocks: 3..4
    expect(Object.keys(b.tokens[0].layer_scores ?? {})).toEqual(['3', '4']);
    const bad = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--decoding', 'lfd', '--lambda', '2');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--lambda');
  });

  it('generates with int8 weights: a conversion progress line, the weight format and cache size on stderr', async () => {
    const { code, stdout, stderr } = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '20', '--weights', 'int8');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Once upon a time, there was a little girl named Lily\./); // int8 keeps the greedy story
    expect(stderr).toMatch(/converting to int8-b32-a4: \d+ \/ \d+ MB, \d+ MB\/s\n/);
    expect(stderr).toMatch(/weights: int8-b32-a4, cache [\d.]+ MB/);
    const badBlock = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--weights', 'int4', '--block-size', '24');
    expect(badBlock.code).toBe(2);
    expect(badBlock.stderr).toContain('--block-size: block size must be a power of two');
    const badFormat = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--weights', 'int3');
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--weights');
  });

  it('reports errors on stderr with a non-zero exit code', async () => {
    const missing = await cli('generate', '--model', join(cacheDir, 'nope'), '--prompt', 'x');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    const badFlag = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--top-p', '3');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('--top-p');
    const bothPrompts = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--prompt-ids', '1');
    expect(bothPrompts.code).toBe(2);
    expect(bothPrompts.stderr).toContain('exactly one of --prompt and --prompt-ids');
    const outOfVocab = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt-ids', '1,9999');
    expect(outOfVocab.code).toBe(1);
    expect(outOfVocab.stderr).toContain('9999');
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
  });

  // Issue 11 item 11: the prompt was echoed before a plan error, which said "variant 0".
  it('refuses a bad --plan before printing anything, without naming a variant', async () => {
    const planFile = join(cacheDir, 'bad-plan.json');
    writeFileSync(planFile, JSON.stringify({ interventions: [{ op: 'add', hook: 'blocks.1.hook_resid_post', vector: [1, 2] }] }));
    const { code, stdout, stderr } = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--plan', planFile);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('error (bad_plan): invalid plan: interventions[0].vector: has 2 values');
    expect(stderr).not.toContain('variant 0');
  });

  it('says where a plan file is not JSON, and which object a bare decoding name should be', async () => {
    const planFile = join(cacheDir, 'broken-plan.json');
    writeFileSync(planFile, '{\n  "interventions": [,]\n}');
    const broken = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--plan', planFile);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('not valid JSON at line 2, column 21');
    const variantsFile = join(cacheDir, 'bare-decoding.json');
    writeFileSync(variantsFile, JSON.stringify([{ name: 'dola', decoding: 'dola' }]));
    const bare = await cli('generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'x', '--variants', variantsFile);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('[0].decoding: expected an object such as {"strategy": "dola"}, not a string');
  });

  // Issue 11 item 11: `tiller generate ... | head` printed an EPIPE stack trace.
  it('stops quietly when its reader closes the pipe early', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/cli/main.ts', 'generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '200', '--no-stop'], {
      cwd: ROOT,
      env: { ...process.env, TILLER_CACHE_DIR: cacheDir },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(code).toBe(0);
  });
});

describe('cli: look inside', () => {
  const model = sharedPath('models', 'stories260K-hf');
  const grid = z.array(z.array(z.number()));
  const lensOutput = z.strictObject({
    site: z.literal('resid_post'), final_norm: z.boolean(), ids: z.array(z.int()), tokens: z.array(z.string()),
    layers: z.array(z.int()), positions: z.array(z.int()), top1: grid, top1_tokens: z.array(z.array(z.string())), top1_prob: grid,
    entropy: grid, kl_to_final: grid, target: z.int().nullable(), target_prob: grid.nullable(), target_rank: grid.nullable(),
    final_top1: z.array(z.int()), forward_passes: z.int(),
  });
  const patchOutput = z.strictObject({
    metric: z.enum(['logit_diff', 'prob', 'kl']), direction: z.enum(['denoising', 'noising']), hook: z.string(),
    layers: z.int(), positions: z.int(), column_kind: z.enum(['position', 'head', 'all_positions']), columns: z.array(z.int()),
    effect: grid, value: grid,
    clean: z.strictObject({ value: z.number(), logit_diff: z.number(), answer_prob: z.number() }),
    corrupted: z.strictObject({ value: z.number(), logit_diff: z.number(), answer_prob: z.number() }),
    forward_passes: z.int(), cells: z.int(), block_positions: z.int(), warnings: z.array(z.string()),
  });
  // "Once upon a time, Lily had a big" and "... a r" (the start of " red"): the model goes on " b" / "ed".
  const clean = '1,403,407,261,378,432,317,381,261,370';
  const corrupted = '1,403,407,261,378,432,317,381,261,352';

  it('prints the logit lens grid as JSON, the last layer reading the model\'s own prediction', async () => {
    const { code, stdout, stderr } = await cli('lens', '--model', model, '--prompt', 'Once upon a time', '--target', ',', '--json');
    expect(code).toBe(0);
    expect(stderr).toContain('lens: 1/1 forward passes');
    const output = lensOutput.parse(JSON.parse(stdout));
    expect(output.layers).toEqual([0, 1, 2, 3, 4]);
    expect(output.positions).toEqual([0, 1, 2, 3, 4]);
    expect(output.target).toBe(432);
    expect(output.top1[4]).toEqual(output.final_top1);
    expect(output.top1_tokens[4][4]).toBe(',');
    expect(output.target_prob?.[4][4]).toBeCloseTo(output.top1_prob[4][4], 6);
    expect(output.target_rank?.[4][4]).toBe(0);
  });

  it('runs a batched patching sweep, reports its forward passes, and exports the effects', async () => {
    const out = join(cacheDir, 'effects.csv');
    const { code, stdout, stderr } = await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', corrupted, '--answer', ' b', '--wrong', 'ed', '--hook', 'resid_pre', '--out', out, '--json');
    expect(code).toBe(0);
    // A pass per segment of blocks (0, 1-2, 3-4), each of at most 32 cells run through its blocks: 10x10x5 + 20x10x4 + 20x10x2.
    expect(stderr).toContain('[cpu] 50 patches in 4 forward passes running 1700 block-positions over their rows (a full pass per patch: 2500)');
    const output = patchOutput.parse(JSON.parse(stdout));
    expect([output.layers, output.positions, output.metric]).toEqual([5, 10, 'logit_diff']);
    // Only the one position where the prompts differ carries the answer; restoring it there recovers it fully.
    expect(output.effect[0][9]).toBeCloseTo(1, 4);
    expect(Math.max(...output.effect[0].slice(0, 9).map(Math.abs))).toBeLessThan(1e-4);
    const csv = readFileSync(out, 'utf8').trim().split('\n');
    expect(csv[0]).toBe(`layer,${Array.from({ length: 10 }, (_, p) => `pos_${p}`).join(',')}`);
    expect(csv).toHaveLength(6);
    const heads = patchOutput.parse(JSON.parse((await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', corrupted, '--answer', '#268', '--wrong', '#266', '--hook', 'z', '--json')).stdout));
    expect([heads.column_kind, heads.columns.length]).toEqual(['head', 8]);
  });

  it('traces the noised subject: the last block at the last position restores the clean probability', async () => {
    const traceOutput = z.strictObject({
      kind: z.literal('hidden'), ids: z.array(z.int()), tokens: z.array(z.string()), subject: z.strictObject({ start: z.int(), end: z.int() }),
      answer: z.int(), answer_token: z.string(), layers: z.array(z.int()), positions: z.array(z.int()), clean_prob: z.number(), corrupted_prob: z.number(),
      restored_prob: grid, indirect_effect: grid, noise_std: z.number(), forward_passes: z.int(),
    });
    const args = ['trace', '--model', model, '--prompt', 'Lily had a big dog. The dog was', '--subject', 'big dog', '--samples', '3', '--seed', '4', '--json'];
    const { code, stdout, stderr } = await cli(...args);
    expect(code).toBe(0);
    expect(stderr).toContain('60 restorations x 3 noise samples in');
    const output = traceOutput.parse(JSON.parse(stdout));
    expect(output.subject).toEqual({ start: 4, end: 7 });
    expect(output.restored_prob[4][11]).toBeCloseTo(output.clean_prob, 5);
    expect(traceOutput.parse(JSON.parse((await cli(...args)).stdout))).toEqual(output); // same seed, same numbers
  });

  it('prints a layer of the neuron atlas, a token search and the active neurons as JSON, then reads it from the cache', async () => {
    const decoding = z.strictObject({ ids: z.array(z.int()), tokens: z.array(z.string()), probs: z.array(z.number()), entropy: z.number(), z_scores: z.array(z.number()).nullable() });
    const neuron = { layer: z.int(), neuron: z.int(), up: decoding, gate: decoding.nullable(), down: decoding };
    const atlasOutput = z.strictObject({
      layers: z.array(z.int()), d_mlp: z.int(), matrices: z.array(z.string()), top: z.int(), final_norm: z.boolean(), normalise: z.enum(['none', 'zscore']),
      table: z.array(z.strictObject(neuron)).nullable(),
      search: z.strictObject({ token: z.int(), token_text: z.string(), matrix: z.string(), neurons: z.array(z.strictObject({ ...neuron, logit: z.number(), z_score: z.number().nullable(), prob: z.number(), rank: z.int().nullable() })) }).nullable(),
      active: z.strictObject({ ids: z.array(z.int()), neurons: z.array(z.strictObject({ ...neuron, activation: z.number(), position: z.int() })) }).nullable(),
      decoded: z.int(), cached: z.int(), seconds: z.number(), neurons_per_second: z.number().nullable(), graph_runs: z.int(),
    });
    const args = ['atlas', '--model', model, '--layer', '2', '--top', '3', '--search', ' b', '--prompt', 'Once upon a time', '--limit', '5', '--json'];
    const { code, stdout, stderr } = await cli(...args);
    expect(code).toBe(0);
    expect(stderr).toMatch(/\[cpu\] 516 neuron directions decoded in [\d.]+ s \(\d+ neurons\/s\), 0 cached/);
    const output = atlasOutput.parse(JSON.parse(stdout));
    expect([output.layers, output.d_mlp, output.matrices]).toEqual([[2], 172, ['up', 'gate', 'down']]);
    expect(output.table?.map((entry) => entry.neuron)).toEqual(Array.from({ length: 172 }, (_, i) => i));
    expect(output.table?.[0].up.tokens).toHaveLength(3);
    const logits = output.search?.neurons.map((entry) => entry.logit) ?? [];
    expect(logits).toHaveLength(5);
    expect(logits).toEqual([...logits].sort((a, b) => b - a));
    expect(output.search?.token_text).toBe('▁b');
    expect(output.active?.ids).toEqual([1, 403, 407, 261, 378]);
    const again = await cli(...args);
    expect(again.stderr).toContain('0 neuron directions decoded in 0.00 s (all from the cache), 516 cached');
    expect(atlasOutput.parse(JSON.parse(again.stdout)).table).toEqual(output.table);
    const bad = await cli('atlas', '--model', model, '--matrix', 'gates');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--matrix: Invalid option');
    // Ranked by z-score: decoded again (its own cache file), every kept token with its z-score, highest first.
    const ranked = await cli('atlas', '--model', model, '--layer', '2', '--top', '3', '--search', ' b', '--limit', '5', '--normalise', 'zscore', '--json');
    expect(ranked.stderr).toMatch(/516 neuron directions decoded/);
    const zOutput = atlasOutput.parse(JSON.parse(ranked.stdout));
    expect(zOutput.normalise).toBe('zscore');
    const scores = zOutput.table?.[0].up.z_scores ?? [];
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const searched = zOutput.search?.neurons.map((entry) => entry.z_score ?? -Infinity) ?? [];
    expect(searched).toEqual([...searched].sort((a, b) => b - a));
    expect((await cli('atlas', '--model', model, '--normalise', 'rank')).stderr).toContain('--normalise: Invalid option');
  });

  it('scores internal consistency as JSON: the engine function\'s readings, L\' from the middle, the answer set at the last answer token', async () => {
    const args = ['consistency', '--model', model, '--prompt-ids', '1,403,407,261,378', '--max-new-tokens', '8', '--answers', '#432, little', '--from-layer', 'middle', '--json'];
    const { code, stdout, stderr } = await cli(...args);
    expect(code).toBe(0);
    expect(stderr).toContain('[cpu] 8 tokens, lens readings in 2 forward passes');
    const output = consistencyOutputSchema.parse(JSON.parse(stdout));
    expect(output.text).toBe(', there was a little girl');
    expect([output.blocks, output.from_layer, output.layers]).toEqual([5, 'middle', [2, 3]]);
    const engine = Engine.create({ cacheDir, threads: 1 });
    try {
      const handle = await engine.loadModel(model);
      const expected = await internalConsistency(handle, { plan: {}, promptIds: output.prompt_ids, generated: output.ids, fromLayer: 'middle', answers: ['#432', ' little'] });
      expect(output.tokens.map((token) => token.lens_top1)).toEqual(expected.lensTop1);
      expect(output.tokens.map((token) => token.agree)).toEqual(expected.agree);
      expect(output.tokens.map((token) => token.score)).toEqual(expected.scores);
      expect(output.ic).toBe(expected.score);
      expect(output.answer?.at).toEqual({ index: 4, token: 376, token_text: '▁little', readings: expected.answer?.at?.readings, agree: expected.answer?.at?.readings.map((id) => id === 376), ic: expected.answer?.at?.score });
    } finally {
      await engine.close();
    }
    expect(output.tokens.every((token, t) => token.lens_top1[4] === output.ids[t])).toBe(true); // greedy: the last block is the output
    const past = await cli('consistency', '--model', model, '--prompt', 'Lily', '--max-new-tokens', '2', '--from-layer', '4');
    expect([past.code, past.stderr.trim()]).toEqual([1, 'error (bad_argument): from layer 4: this model has 5 blocks and the score counts blocks 0..3 (all but the last), so it must start at 3 or before']);
  });

  it('warns of multi-token answers and votes over sampled paths by count and by IC (calibrated self-consistency)', async () => {
    const { code, stdout, stderr } = await cli('consistency', '--model', model, '--prompt', 'Lily and Tom', '--max-new-tokens', '10', '--answers', ' went, were', '--temperature', '1', '--samples', '4', '--json');
    expect(code).toBe(0);
    expect(stderr).toContain('warning: answer " went" is 2 tokens ("▁w" (#');
    expect(stderr).toContain('its first token stands for it (first-token convention)');
    const vote = consistencyOutputSchema.parse(JSON.parse(stdout)).self_consistency;
    expect(vote?.paths.map((path) => path.seed)).toEqual([0, 1, 2, 3]);
    for (const entry of vote?.votes ?? []) {
      const voters = vote?.paths.filter((path) => path.answer === entry.token) ?? [];
      expect([entry.count, entry.weight]).toEqual([voters.length, voters.reduce((sum, path) => sum + (path.ic ?? 0), 0)]);
    }
    const top = (key: 'count' | 'weight') => [...(vote?.votes ?? [])].sort((a, b) => b[key] - a[key])[0].token;
    expect([vote?.majority, vote?.weighted]).toEqual([top('count'), top('weight')]);
    const greedy = await cli('consistency', '--model', model, '--prompt', 'Lily', '--answers', ' a', '--samples', '3');
    expect([greedy.code, greedy.stderr.split('\n')[0]]).toEqual([2, 'error: --samples: greedy paths are all the same; give --temperature above 0']);
  });

  it('prints a neuron\'s clamp curve as JSON, as multiples of its largest activation or as given, and names a neuron out of range', async () => {
    const reading = { prob: z.number(), rank: z.int(), mean_prob: z.number().nullable() };
    const curveOutput = z.strictObject({
      hook: z.string(), neuron: z.int(), token: z.int(), token_text: z.string(), scale: z.enum(['max_activation', 'absolute']),
      max_activation: z.number(), max_position: z.int(), baseline: z.strictObject(reading),
      points: z.array(z.strictObject({ value: z.number(), ...reading })), forward_passes: z.int(), warnings: z.array(z.string()),
    });
    const base = ['clamp-curve', '--model', model, '--prompt-ids', clean, '--layer', '2', '--neuron', '7', '--token', ' b'];
    const multiples = await cli(...base, '--average', '--json');
    expect(multiples.code).toBe(0);
    expect(multiples.stderr).toMatch(/\[cpu\] 6 clamp values, 2 forward passes in [\d.]+ s/);
    const output = curveOutput.parse(JSON.parse(multiples.stdout));
    expect([output.hook, output.token_text, output.scale]).toEqual(['blocks.2.mlp.hook_post', '▁b', 'max_activation']);
    expect(output.points.map((point) => point.value)).toEqual([0, 1, 2, 5, 10, 20].map((k) => k * output.max_activation));
    expect(output.points.every((point) => point.mean_prob !== null && point.prob >= 0 && point.prob <= 1)).toBe(true);
    expect(new Set(output.points.map((point) => point.prob)).size).toBeGreaterThan(1); // the clamp moves p(" b")

    const absolute = await cli(...base, '--values=-4,0,4', '--absolute', '--json');
    const given = curveOutput.parse(JSON.parse(absolute.stdout));
    expect([given.scale, given.points.map((point) => point.value), given.baseline.mean_prob]).toEqual(['absolute', [-4, 0, 4], null]);
    expect(given.baseline).toEqual({ ...output.baseline, mean_prob: null });

    const outside = await cli('clamp-curve', '--model', model, '--prompt-ids', clean, '--layer', '2', '--neuron', '172', '--token', ' b');
    expect([outside.code, outside.stderr.trim()]).toEqual([1, "error (bad_argument): invalid clamp curve request: neuron: neuron 172 is outside the layer's MLP (0..171)"]);
    const missing = await cli('clamp-curve', '--model', model, '--prompt-ids', clean, '--neuron', '7', '--token', ' b');
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([2, 'error: --layer: --layer is required']);
  });

  it('compares two models\' atlases: the same weights from two file formats agree on every neuron; another shape is named', async () => {
    const { code, stdout, stderr } = await cli('atlas', 'compare', '--model', model, '--other', sharedPath('models', 'stories260K', 'stories260K.bin'), '--layers', '0,3', '--matrix', 'down', '--json');
    expect(code, stderr).toBe(0);
    const output = atlasCompareOutputSchema.parse(JSON.parse(stdout));
    expect(output.per_layer).toEqual([{ layer: 0, same: 172, agreement: 1 }, { layer: 3, same: 172, agreement: 1 }]);
    expect([output.agreement, output.changed_count, output.matrix]).toEqual([1, 0, 'down']);
    // llama2.c's tokenizer writes some tokens otherwise ("\n<s>\n" for "<s>"): named, since the comparison matches ids.
    expect(output.warnings).toEqual([expect.stringContaining('the tokenizers differ at 93 of 512 token ids (first: #1 "<s>" vs "\\n<s>\\n")')]);
    expect(stderr).toContain('warning: the tokenizers differ at 93 of 512 token ids');
    const text = await cli('atlas', 'compare', '--model', model, '--other', sharedPath('models', 'stories260K', 'stories260K.bin'), '--layers', '0');
    expect(text.stdout).toContain('same top-1 up token in 172 of 172 neurons (100.0%)');
    // A random model and a copy whose layer 1 up rows are reversed: layer 0 agrees, layer 1 lists changed neurons with both tokens' texts.
    const small = { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 2, dModel: 32, dMlp: 48, nHeads: 4, nKvHeads: 2, dHead: 8, seed: 5 };
    const otherShape = buildRandomModel(join(cacheDir, 'compare-other'), small);
    const reversed = buildRandomModel(join(cacheDir, 'compare-reversed'), {
      ...small,
      edit: (weights) => {
        const up = weights.get('blocks.1.mlp.up_proj.weight') as Float32Array;
        const rows = Array.from({ length: 48 }, (_, i) => up.slice(i * 32, (i + 1) * 32));
        rows.reverse().forEach((row, i) => up.set(row, i * 32));
      },
    });
    const changed = await cli('atlas', 'compare', '--model', otherShape.dir, '--other', reversed.dir, '--limit', '3', '--json');
    const moved = atlasCompareOutputSchema.parse(JSON.parse(changed.stdout));
    expect(moved.per_layer[0]).toEqual({ layer: 0, same: 48, agreement: 1 });
    expect(moved.changed_count).toBeGreaterThan(3);
    expect(moved.changed.map((entry) => [entry.layer, entry.base.text === entry.other.text])).toEqual([[1, false], [1, false], [1, false]]);
    const bad = await cli('atlas', 'compare', '--model', model, '--other', otherShape.dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('atlas comparison: the models differ in shape (layers 5 vs 2');
    expect((await cli('atlas', 'compare', '--model', model)).stderr).toContain('--other: ');
    expect((await cli('atlas', 'comapre', '--model', model)).stderr).toContain('atlas takes no argument but the subcommand compare, got "comapre"');
  });

  it('names a multi-token answer and prompts of different lengths', async () => {
    const multi = await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', corrupted, '--answer', ' dog', '--wrong', 'ed');
    expect(multi.code).toBe(1);
    expect(multi.stderr).toContain('--answer " dog" is not one token');
    const lengths = await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', '1,403', '--answer', '#268', '--wrong', '#266');
    expect(lengths.stderr).toContain('corrupted: has 2 tokens and clean has 10');
    // Paired from the end: the clean prompt's last two positions with the corrupted prompt's two.
    const aligned = await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', '1,403', '--answer', '#268', '--wrong', '#266', '--align', 'end', '--json');
    expect(aligned.code).toBe(0);
    expect(JSON.parse(aligned.stdout)).toMatchObject({ column_kind: 'position', columns: [8, 9] });
    const pairs = await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', '1,403', '--answer', '#268', '--wrong', '#266', '--align', '0:0, 9:1', '--json');
    expect(JSON.parse(pairs.stdout)).toMatchObject({ columns: [0, 9] });
    const bad = await cli('patch', '--model', model, '--clean-ids', clean, '--corrupted-ids', '1,403', '--answer', '#268', '--wrong', '#266', '--align', 'middle');
    expect([bad.code, bad.stderr.split('\n')[0]]).toEqual([2, 'error: --align: expected start, end, or clean:corrupted position pairs, e.g. 0:0,3:4']);
  });
});

describe('bundled cli', () => {
  it('builds with electron-vite and runs under plain node, starting the bundled inference worker', async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: ROOT });
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'out', 'main', 'cli.js'), 'generate', '--model', sharedPath('models', 'stories260K-hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '8'], {
      env: { ...process.env, TILLER_CACHE_DIR: cacheDir },
    });
    expect(stdout).toMatch(/^Once upon a time, there was a little/);
  });
});
