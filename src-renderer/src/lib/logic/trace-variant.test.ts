import { describe, expect, it } from 'vitest';
import { gaussian, SeededRng } from '../../../../src-shared/seeded-rng';
import type { TracingRecord } from './inside';
import { traceVariant } from './trace-variant';

const request = { ids: [1, 317, 280, 400, 5, 9], subject: { start: 1, end: 3 }, answer: null, kind: 'hidden' as const, window: 10, samples: 3, noiseScale: 3, seed: 4, batchSize: 64 };
const record: TracingRecord = {
  kind: 'tracing',
  id: 'analysis-3',
  createdAt: '2026-01-01T00:00:00Z',
  labels: {},
  input: { text: 'The Eiffel Tower is in', subject: 'Eiffel', answer: null, kind: 'hidden', window: 10, samples: 3, seed: 4 },
  request,
  result: {
    layers: [0, 1, 2],
    positions: [0, 1, 2, 3, 4, 5],
    answer: 7,
    cleanProb: 0.5,
    corruptedProb: 0.1,
    restoredProb: [[0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]],
    indirectEffect: [[0, 0, 0, 0, 0, 0], [0, 0.1, 0.2, 0, 0, 0], [0, 0, 0, 0, 0, 0.4]],
    noiseStd: 0.25,
    forwardPasses: 2,
    cells: 18,
  },
};
const width = 4;

describe('inside: a causal tracing cell as a Compare variant', () => {
  it('adds noise sample 0 at each subject position, drawn as the trace draws it, then patches the clean state', () => {
    const variant = traceVariant(record, { layer: 2, position: 5 }, width);
    expect(variant.name).toBe('Trace restore hidden L2 pos 5 (noise sample 0)');
    const rng = new SeededRng(4); // the trace's generator: sample 0 first, position-major
    const noise = Array.from({ length: 2 * width }, () => 0.25 * gaussian(rng));
    expect(variant.steps).toEqual([
      { intervention: { op: 'add', hook: 'hook_embed', vector: noise.slice(0, width), scale: 1, positions: [1] }, origin: null },
      { intervention: { op: 'add', hook: 'hook_embed', vector: noise.slice(width), scale: 1, positions: [2] }, origin: null },
      { intervention: { op: 'patch', hook: 'blocks.2.hook_resid_post', positions: [5], source: { prompt_ids: request.ids } }, origin: { kind: 'patch-source', text: 'The Eiffel Tower is in' } },
    ]);
  });

  it('noises the subject alone, and restores an MLP cell over its clipped window', () => {
    const noise = traceVariant(record, null, width);
    expect(noise.name).toBe('Trace noise subject pos 1-2 (noise sample 0)');
    expect(noise.steps.map((step) => step.intervention.op)).toEqual(['add', 'add']);
    const mlp = { ...record, request: { ...request, kind: 'mlp' as const, window: 2 } };
    const variant = traceVariant(mlp, { layer: 1, position: 3 }, width);
    expect(variant.name).toBe('Trace restore mlp L0-1 pos 3 (noise sample 0)');
    const patches = variant.steps.slice(2).map((step) => step.intervention);
    expect(patches).toMatchObject([{ op: 'patch', hook: 'blocks.0.hook_mlp_out', positions: [3] }, { op: 'patch', hook: 'blocks.1.hook_mlp_out', positions: [3] }]);
    expect(variant.steps.slice(0, 2)).toEqual(noise.steps); // the same sample 0 noise in both variants
  });

  it('names a one-token subject by its position, and keeps explicit positions past a shorter Compare prompt', () => {
    const one = { ...record, request: { ...request, subject: { start: 2, end: 3 } } };
    expect(traceVariant(one, null, width).name).toBe('Trace noise subject pos 2 (noise sample 0)');
    // Like a patching cell: an explicit position, which on a shorter prompt falls on a generated token.
    expect(traceVariant(one, { layer: 0, position: 5 }, width).steps.at(-1)?.intervention).toMatchObject({ positions: [5] });
  });
});
