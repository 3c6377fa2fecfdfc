/**
 * A plan's inputs split in two: the constant ones a batch sends to the worker once, and
 * the per-step ones (position masks, patched rows) sent with every feed. Together they
 * are exactly the graph's parameter inputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRandomModel } from '../../test/fixtures/random-model';
import { validatePlan } from '../hooks/plan';
import { tapSpecFor } from './compile';
import { constantPlanFeeds, stepPlanFeeds } from './feeds';

const dir = mkdtempSync(join(tmpdir(), 'tiller-feeds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { spec } = buildRandomModel(dir, { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 2, dModel: 16, dMlp: 32, nHeads: 4, nKvHeads: 2, dHead: 4, seed: 3 });

const plan = validatePlan(spec, {
  interventions: [
    { op: 'add', hook: 'blocks.0.hook_resid_post', vector: Array(16).fill(1), scale: 2 },
    { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [1, 2], values: [3] },
    { op: 'scale', hook: 'blocks.1.attn.hook_z', indices: [0], values: [0], positions: 'generated' },
    { op: 'patch', hook: 'blocks.1.hook_resid_pre', positions: [0], source: { values: [Array(16).fill(5)] } },
    { op: 'weight_delta', param: 'blocks.0.mlp.down_proj', u: Array(16).fill(0.1), v: Array(32).fill(0.2) },
  ],
});
const rows = [{ plan, patches: new Map([[3, () => Float32Array.from(Array(16).fill(5))]]) }];
const tapSpec = tapSpecFor(plan);

describe('plan feeds', () => {
  it('sends values once and position-dependent inputs with each step, together every parameter input', () => {
    const constant = Object.keys(constantPlanFeeds(spec, tapSpec, rows)).sort();
    const step = Object.keys(stepPlanFeeds(spec, tapSpec, rows, { start: 4, count: 1, promptLength: 3 })).sort();
    expect(constant).toEqual(['intervention.0.delta', 'intervention.1.select', 'intervention.1.values', 'intervention.2.factor', 'intervention.4.u', 'intervention.4.v']);
    expect(step).toEqual(['intervention.0.mask', 'intervention.1.mask', 'intervention.2.mask', 'intervention.3.mask', 'intervention.3.values']);
  });

  it('builds masks per step (a generated-only mask is 0 over the prompt, 1 at a generated token) and deltas as scale x vector', () => {
    const values = (feeds: ReturnType<typeof constantPlanFeeds>) => Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
    const atPrompt = stepPlanFeeds(spec, tapSpec, rows, { start: 0, count: 3, promptLength: 3 });
    const atToken = stepPlanFeeds(spec, tapSpec, rows, { start: 3, count: 1, promptLength: 3 });
    expect(Array.from(atPrompt['intervention.2.mask'].data as Float32Array)).toEqual([0, 0, 0]);
    expect(Array.from(atToken['intervention.2.mask'].data as Float32Array)).toEqual([1]);
    expect(values(constantPlanFeeds(spec, tapSpec, rows))['intervention.0.delta']).toEqual(Array(16).fill(2));
  });
});
