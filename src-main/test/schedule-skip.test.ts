/**
 * A block the schedule skips is the identity on the residual stream (hooks/schedule.ts),
 * on the real stories260K model (5 blocks, d_model 64): the README's canonical plan runs
 * through the engine and the CLI with a warning for its no-op intervention, and the
 * residual hooks of a skipped block read the stream passing it by, as the reference
 * forward pass computes it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine/engine';
import { generationSettingsSchema } from '../engine/generate/settings';
import { openModel } from '../engine/model/load';
import { expectedParams } from '../engine/model/spec';
import { maxAbsDiff, referenceForward, referenceLens, weightGetter, type WeightGetter } from './reference/forward';
import { sharedPath } from './shared-paths';

const MODEL = sharedPath('models', 'stories260K-hf');
const workDir = mkdtempSync(join(tmpdir(), 'tiller-schedule-skip-'));
let engine: Engine;
let handle: ModelHandle;
let weight: WeightGetter;
const ids = [1, 403, 407, 261, 378]; // "Once upon a time"

beforeAll(async () => {
  engine = Engine.create({ cacheDir: join(workDir, 'cache') });
  handle = await engine.loadModel(MODEL);
  // Every parameter the reference reads, read now: the source closes with the checkpoint.
  const checkpoint = await openModel(MODEL);
  const weights = new Map([...expectedParams(handle.spec).keys()].filter((name) => checkpoint.weights.has(name)).map((name) => [name, checkpoint.weights.read(name)]));
  weight = weightGetter(weights);
  checkpoint.weights.close();
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

const vector = (length: number, scale: number, phase: number) => Array.from({ length }, (_, i) => scale * Math.sin(phase + i));

/** The README's plan: one of everything, with a schedule that skips block 3. */
const canonicalPlan = () => ({
  captures: [{ hook: 'blocks.4.hook_resid_post', positions: 'last' }],
  interventions: [
    { op: 'add', hook: 'blocks.2.hook_resid_post', vector: vector(64, 0.05, 0), scale: 1.0, positions: 'all' },
    { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [17, 42], values: [8.0, 0.0], positions: 'all' },
    { op: 'scale', hook: 'blocks.3.attn.hook_z', indices: [5], values: [0.0] },
    { op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: [3, 4], source: { prompt_ids: [1, 403, 407, 261, 378, 430] } },
    { op: 'schedule', blocks: [0, 1, 1, 2, 4] },
    { op: 'lens', layers: [2, 3] },
    { op: 'weight_delta', param: 'blocks.2.mlp.down_proj', u: vector(64, 0.01, 1), v: vector(172, 0.01, 2) },
  ],
});
const CANONICAL_WARNING = 'interventions[2]: blocks.3.attn.hook_z is in block 3, which the schedule [0, 1, 1, 2, 4] skips: no effect';

describe('the canonical plan', () => {
  it('runs through engine.run, warning that the intervention in the skipped block has no effect', async () => {
    const result = await handle.run(ids, canonicalPlan());
    expect(result.warnings).toEqual([CANONICAL_WARNING]);
    expect(result.logits).toHaveLength(ids.length);
    expect(result.captures['blocks.4.hook_resid_post']).toMatchObject({ shape: [1, 64], positions: [4] });
    // Block 3 is skipped, so its lens reads the stream block 2 hands on: the same logits.
    expect(result.lens[3]).toEqual(result.lens[2]);
  });

  it('gives the same logits with and without its no-op intervention', async () => {
    const plan = canonicalPlan();
    const without = { ...plan, interventions: plan.interventions.filter((_, i) => i !== 2) };
    const [a, b] = [await handle.run(ids, plan), await handle.run(ids, without)];
    expect(a.logits).toEqual(b.logits);
    expect(b.warnings).toEqual([]);
    // So does a weight edit of the skipped block, with its own warning.
    const edited = { ...plan, interventions: [...plan.interventions, { op: 'weight_delta', param: 'blocks.3.mlp.up_proj', u: vector(172, 0.5, 3), v: vector(64, 0.5, 4) }] };
    const c = await handle.run(ids, edited);
    expect(c.logits).toEqual(a.logits);
    expect(c.warnings).toEqual([CANONICAL_WARNING, 'interventions[7]: blocks.3.mlp.up_proj is in block 3, which the schedule [0, 1, 1, 2, 4] skips: no effect']);
  });

  it('generates, with the warning in the result', async () => {
    const settings = generationSettingsSchema.parse({ maxNewTokens: 5, stopAtEos: false });
    const stream = handle.generateVariants(ids, settings, [{}, { plan: canonicalPlan() }]);
    let step = await stream.next();
    while (!step.done) step = await stream.next();
    expect(step.value.map((result) => result.warnings)).toEqual([[], [CANONICAL_WARNING]]);
    expect(step.value[1].generatedIds).toHaveLength(5);
  });
});

describe('residual hooks of a skipped block', () => {
  const blocks = [0, 1, 2, 4];
  const residual = ['blocks.2.hook_resid_post', 'blocks.3.hook_resid_pre', 'blocks.3.hook_resid_mid', 'blocks.3.hook_resid_post', 'blocks.4.hook_resid_pre'];

  it('read the stream passing it by: with [0, 1, 2, 4] the lens of layer 3 is the lens of layer 2, final norm + unembedding of that stream', async () => {
    const plan = {
      captures: residual.map((hook) => ({ hook, positions: 'all' })),
      interventions: [{ op: 'schedule', blocks }, { op: 'lens', layers: [2, 3] }],
    };
    const { lens, captures, warnings } = await handle.run(ids, plan);
    expect(warnings).toEqual([]);
    expect(lens[3]).toEqual(lens[2]);
    for (const hook of residual) expect(captures[hook].data, hook).toEqual(captures['blocks.2.hook_resid_post'].data);
    // Against the float64 reference: the stream after block 2 (its third schedule position).
    const reference = referenceForward(handle.spec, weight, ids, { schedule: blocks });
    const stream = captures['blocks.3.hook_resid_post'];
    ids.forEach((_, pos) => {
      const row = stream.data.subarray(pos * 64, (pos + 1) * 64);
      expect(maxAbsDiff(row, reference.residPost[2][pos]), `stream at ${pos}`).toBeLessThan(1e-4);
      expect(maxAbsDiff(lens[3][pos], referenceLens(handle.spec, weight, row)), `lens 3 at ${pos}`).toBeLessThan(1e-4);
    });
  });

  it('refuse captures of its other hooks, naming the schedule', async () => {
    const plan = { captures: [{ hook: 'blocks.3.mlp.hook_post' }], interventions: [{ op: 'schedule', blocks }] };
    await expect(handle.run(ids, plan)).rejects.toThrow('captures[0].hook: blocks.3.mlp.hook_post is in block 3, which the schedule [0, 1, 2, 4] skips');
  });

  it('LFD reads them too, with a warning that the skipped layer always wins', async () => {
    const settings = generationSettingsSchema.parse({ maxNewTokens: 4, stopAtEos: false });
    const stream = handle.generateVariants(ids, settings, [{ plan: { interventions: [{ op: 'schedule', blocks }] }, decoding: { strategy: 'lfd' } }]);
    const layers: number[] = [];
    let step = await stream.next();
    for (; !step.done; step = await stream.next()) layers.push(step.value.decoding!.layer);
    expect(layers).toEqual([4, 4, 4, 4]); // hidden state 4 = block 3's output: IKS 0
    expect(step.value[0].warnings).toEqual([
      'decoding.candidateLayers: layer 4 is the output of block 3, which the schedule [0, 1, 2, 4] skips: its IKS is always 0, so LFD picks it (or another skipped layer) at every step',
    ]);
  });
});

describe('the CLI', () => {
  const ROOT = resolve(__dirname, '..', '..');
  const cli = async (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src-main/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, TILLER_CACHE_DIR: join(workDir, 'cli-cache') } });

  it('runs the canonical plan, printing the warning to stderr and in the JSON', async () => {
    const planFile = join(workDir, 'canon.json');
    writeFileSync(planFile, JSON.stringify(canonicalPlan()));
    const { stdout, stderr } = await cli('run', '--model', MODEL, '--prompt', 'Once upon a time', '--plan', planFile, '--json');
    expect(stderr).toContain(`warning: ${CANONICAL_WARNING}\n`);
    const output = JSON.parse(stdout) as { ids: number[]; warnings: string[]; lens_last: Record<string, { argmax: number }>; capture_dims: Record<string, { shape: number[] }> };
    expect(output.ids).toEqual(ids);
    expect(output.warnings).toEqual([CANONICAL_WARNING]);
    expect(Object.keys(output.lens_last)).toEqual(['2', '3']);
    expect(output.capture_dims['blocks.4.hook_resid_post'].shape).toEqual([1, 64]);

    const generated = await cli('generate', '--model', MODEL, '--prompt', 'Once upon a time', '--plan', planFile, '--max-new-tokens', '3', '--json');
    expect(generated.stderr).toContain(`warning: ${CANONICAL_WARNING}\n`);
    expect((JSON.parse(generated.stdout) as { warnings: string[] }).warnings).toEqual([CANONICAL_WARNING]);
  });
});
