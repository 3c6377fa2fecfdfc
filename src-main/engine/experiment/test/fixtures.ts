/**
 * Experiments for the experiment-file tests, built in code (seeded) so no fixture files
 * need to be kept in step with the schema. Used by the tests and by the child process
 * of the killed-save test.
 */
import { experimentSchema, type Experiment } from '../schema';

/** Deterministic float32 values in (-1, 1): large vectors round-trip through the F32 sidecar exactly. */
export function seededVector(seed: number, length: number): number[] {
  let state = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return Math.fround(((state >>> 0) / 2 ** 32) * 2 - 1);
  });
}

/**
 * An experiment touching every part of the schema: a baseline, steering with a large
 * (sidecar) and a small (inline) vector, patching with cached rows, a rank-2 weight
 * delta, lens-based decoding, origins, and cached results.
 */
export function sampleExperiment(seed = 1, width = 96): Experiment {
  return experimentSchema.parse({
    format: 'tiller-experiment',
    version: 1,
    name: `Honesty sweep ${seed}`,
    createdAt: '2025-01-02T03:04:05.000Z',
    updatedAt: '2025-01-02T03:14:05.000Z',
    model: {
      path: '/models/SmolLM2-135M',
      format: 'huggingface',
      architecture: 'LlamaForCausalLM',
      fingerprint: 'f'.repeat(64),
      tokenizerPath: '/models/SmolLM2-135M/tokenizer.json',
    },
    prompt: { text: 'The capital of France is', chat: false },
    settings: { maxNewTokens: 8, temperature: 0.7, seed: 1234, stopStrings: ['\n\n'] },
    variants: [
      { id: 'baseline', name: 'Baseline' },
      {
        id: 'honest',
        name: 'Honest +4',
        interventions: [
          { op: 'add', hook: 'blocks.6.hook_resid_pre', vector: seededVector(seed, width), scale: 4, positions: 'all' },
          { op: 'add', hook: 'blocks.2.attn.hook_z', vector: [0.1, -0.25, 1e-7, 3], scale: -1.5, positions: [0, 2] },
          { op: 'scale', hook: 'blocks.3.attn.hook_z', indices: [1, 4], values: [0], positions: 'last' },
        ],
        origins: { '0': { kind: 'contrast', hook: 'blocks.6.hook_resid_pre', positive: 'Honest', negative: 'Deceptive' } },
        decoding: { strategy: 'lfd', lambda: 0.25 },
      },
      {
        id: 'edit',
        name: 'Patch and edit',
        interventions: [
          { op: 'patch', hook: 'blocks.4.hook_resid_post', positions: [0, 1, 2], source: { values: [0, 1, 2].map((row) => seededVector(seed + 10 + row, width)) } },
          { op: 'weight_delta', param: 'blocks.1.mlp.down_proj', u: [seededVector(seed + 20, width), seededVector(seed + 21, width)], v: [seededVector(seed + 22, 2 * width), seededVector(seed + 23, 2 * width)] },
          { op: 'weight_delta', param: 'unembed', u: seededVector(seed + 30, 3 * width), v: seededVector(seed + 31, width) },
          { op: 'lens', layers: [2, 5] },
        ],
        decoding: { strategy: 'dola', layers: [0, 2] },
      },
    ],
    vectors: [
      {
        id: 'vec-honesty',
        name: 'honesty (pca)',
        model: 'llama',
        entries: [
          { hook: 'blocks.5.hook_resid_post', vector: seededVector(seed + 40, width), norm: 1, relativeNorm: 0.05 },
          { hook: 'blocks.6.hook_resid_post', vector: [0.5, -0.5], norm: 0.70710678, relativeNorm: null },
        ],
        provenance: { kind: 'extract', method: 'pca', readout: 'last', pairs: '12' },
      },
    ],
    results: {
      ranAt: '2025-01-02T03:15:00.000Z',
      provider: 'cpu',
      promptIds: [504, 3575, 282, 4649, 314],
      variants: [
        {
          variantId: 'baseline',
          tokens: [
            { id: 7042, text: ' Paris', logprob: -0.12, top: [{ id: 7042, text: ' Paris', logprob: -0.12 }, { id: 253, text: ' a', logprob: -2.5 }] },
            { id: 30, text: '.', logprob: -0.5, top: [] },
          ],
          text: ' Paris.',
          stopReason: 'max_tokens',
          tokensPerSecond: 41.5,
        },
        {
          variantId: 'honest',
          tokens: [{ id: 7042, text: ' Paris', logprob: -0.3, top: [], decoding: { strategy: 'lfd', layer: 20, scores: { '18': 0.5, '20': 0.75 } } }],
          text: ' Paris',
          stopReason: 'eos',
          tokensPerSecond: 38,
        },
      ],
    },
  });
}
