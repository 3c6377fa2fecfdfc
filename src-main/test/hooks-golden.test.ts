/** Captures and steering through compiled plans, against ../shared/golden/stories260k.json. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine/api';
import { openModel } from '../engine/model/load';
import { maxAbsDiff } from './reference/forward';
import { expectEngineError } from './expect-engine-error';
import { sharedPath } from './shared-paths';

interface Golden {
  prompt_ids: number[];
  resid_post_last_pos: number[][];
  steer: { layer: number; argmax_per_pos: number[]; logits_last: number[] };
}
const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260k.json'), 'utf8')) as Golden;

const argmax = (row: Float32Array): number => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

const cacheDir = mkdtempSync(join(tmpdir(), 'tiller-hooks-'));
let engine: Engine;
let model: ModelHandle;
let steerVector: number[]; // golden README: 2.0 x row 400 of the token embedding, at every position
beforeAll(async () => {
  engine = Engine.create({ cacheDir });
  model = await engine.loadModel(sharedPath('models', 'stories260K-hf'));
  const checkpoint = await openModel(sharedPath('models', 'stories260K-hf'));
  const embedding = checkpoint.weights.read('embed.weight');
  checkpoint.weights.close();
  steerVector = Array.from(embedding.subarray(400 * 64, 401 * 64), (x) => 2 * x);
});
afterAll(async () => {
  await engine.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('hooks on stories260K (golden)', () => {
  it('captures blocks.{i}.hook_resid_post at the last prompt position for all 5 blocks within 1e-4', async () => {
    const captures = [0, 1, 2, 3, 4].map((i) => ({ hook: `blocks.${i}.hook_resid_post`, positions: 'last' as const }));
    const result = await model.run(golden.prompt_ids, { captures });
    for (let i = 0; i < 5; i++) {
      const capture = result.captures[`blocks.${i}.hook_resid_post`];
      expect(capture.shape).toEqual([1, 64]);
      expect(capture.positions).toEqual([golden.prompt_ids.length - 1]);
      expect(maxAbsDiff(capture.data, golden.resid_post_last_pos[i])).toBeLessThan(1e-4);
    }
  });

  it('steers with 2 x embedding row 400 added at blocks.2.hook_resid_post: argmax per position exact, last logits within 1e-4', async () => {
    const plan = { interventions: [{ op: 'add', hook: `blocks.${golden.steer.layer}.hook_resid_post`, vector: steerVector, scale: 1, positions: 'all' }] };
    const { logits } = await model.run(golden.prompt_ids, plan);
    expect(logits.map(argmax)).toEqual(golden.steer.argmax_per_pos);
    expect(maxAbsDiff(logits[logits.length - 1], golden.steer.logits_last)).toBeLessThan(1e-4);
  });

  it('changes only values, not structure, when the scale changes: scale 0 is the unsteered model', async () => {
    const plan = (scale: number) => ({ interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: steerVector, scale, positions: 'all' }] });
    const steered = await model.run(golden.prompt_ids, plan(1));
    const unsteered = await model.run(golden.prompt_ids, plan(0));
    const baseline = await model.forward(golden.prompt_ids, 'all');
    expect(maxAbsDiff(unsteered.logits[15], baseline[15])).toBeLessThan(1e-5);
    expect(maxAbsDiff(steered.logits[15], baseline[15])).toBeGreaterThan(0.1);
  });

  it('refuses bad plans with errors that name the problem', async () => {
    await expectEngineError(() => model.run([1, 2], { captures: [{ hook: 'blocks.9.hook_resid_post' }] }), 'bad_plan', 'out of range');
    await expectEngineError(() => model.run([1, 2], { interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: [1, 2, 3] }] }), 'bad_plan', 'vector');
    await expectEngineError(() => model.run([1, 2], { interventions: [{ op: 'set', hook: 'blocks.0.attn.hook_z', indices: [8], values: [0] }] }), 'bad_plan', '8 is out of range', 'has 8 heads');
  });
});
