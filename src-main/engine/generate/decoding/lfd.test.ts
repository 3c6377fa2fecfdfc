import { describe, expect, it } from 'vitest';
import { EngineError } from '../../errors';
import { lfdDecodingSchema, type LfdDecoding } from '../../../../src-shared/decoding-schema';
import { SeededRng } from '../rng';
import { argmax } from '../sampler';
import { lfdSelectLayer, lfdStep, type LfdInput } from './lfd';

// Reference maths on plain number arrays, written independently of the implementation.
function softmax(z: ArrayLike<number>): number[] {
  const values = Array.from(z);
  const max = Math.max(...values);
  const exps = values.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / sum);
}
function jsd(p: number[], q: number[]): number {
  const m = p.map((pi, i) => (pi + q[i]) / 2);
  const kl = (a: number[]): number => a.reduce((sum, ai, i) => (ai > 0 ? sum + ai * Math.log(ai / m[i]) : sum), 0);
  return (kl(p) + kl(q)) / 2;
}

const lfd = (options: Partial<LfdDecoding>): LfdDecoding => lfdDecodingSchema.parse({ strategy: 'lfd', ...options });
const f32 = (values: number[]): Float32Array => Float32Array.from(values);

/**
 * A 3-token toy: greedy picks token 1. Layer 4's MLP changes nothing (IKS 0), so l* = 4;
 * layer 5's MLP moves the prediction a lot.
 */
const toy: LfdInput = {
  final: f32([1, 2, 0]),
  residPost: new Map([
    [4, f32([3, 0, 0])],
    [5, f32([5, 0, 0])],
  ]),
  residMid: new Map([
    [4, f32([3, 0, 0])],
    [5, f32([0, 0, 0])],
  ]),
  hiddenFused: new Map([
    [4, f32([0, 0, 5])],
    [5, f32([5, 0, 0])],
  ]),
};

function randomInput(rng: SeededRng, vocab: number, candidates: number[]): LfdInput {
  // Rounded to halves so ties (within and across layers) actually happen.
  const logits = (): Float32Array => Float32Array.from({ length: vocab }, () => Math.round((rng.nextFloat() - 0.5) * 12) / 2);
  const final = logits();
  return {
    final,
    residPost: new Map(candidates.map((layer) => [layer, logits()])),
    residMid: new Map(candidates.map((layer) => [layer, logits()])),
    hiddenFused: new Map(candidates.map((layer) => [layer, Float32Array.from(final)])), // lambda = 0: Norm_f(h_N)
  };
}

describe('lfdSelectLayer', () => {
  it('scores each candidate by JSD across its MLP and picks the lowest', () => {
    const { layer, candidateScores } = lfdSelectLayer(toy, [5, 4]);
    expect(layer).toBe(4);
    expect(candidateScores[4]).toBe(0);
    expect(candidateScores[5]).toBeCloseTo(jsd(softmax([0, 0, 0]), softmax([5, 0, 0])), 6);
  });

  it('matches an independent argmin of IKS and stays within the candidates', () => {
    const rng = new SeededRng(3);
    const candidates = [15, 17, 20, 29];
    for (let trial = 0; trial < 30; trial++) {
      const input = randomInput(rng, 20, candidates);
      const iks = candidates.map((l) => jsd(softmax(input.residMid.get(l)!), softmax(input.residPost.get(l)!)));
      const { layer } = lfdSelectLayer(input, candidates);
      expect(candidates).toContain(layer);
      expect(iks[candidates.indexOf(layer)]).toBeCloseTo(Math.min(...iks), 6);
    }
  });
});

describe('lfdStep', () => {
  it.each(['logprob', 'logit', 'hidden'] as const)('with lambda = 0 is greedy decoding (%s fusion)', (fusion) => {
    const rng = new SeededRng(9);
    for (let trial = 0; trial < 30; trial++) {
      const input = randomInput(rng, 40, [2, 3]);
      const step = lfdStep(input, lfd({ fusion, lambda: 0 }), [2, 3]);
      expect(argmax(step.scores)).toBe(argmax(input.final));
      // logprob and logit return z_N itself (=== per token; -0 may come back as +0).
      if (fusion !== 'hidden') expect(step.scores.every((score, id) => score === input.final[id])).toBe(true);
    }
  });

  it('logprob fusion: softmax of the scores is softmax((1-lambda) log p_N + lambda log p_l*)', () => {
    const step = lfdStep(toy, lfd({ fusion: 'logprob', lambda: 0.5 }), [4, 5]);
    const logpN = softmax([1, 2, 0]).map(Math.log);
    const logpL = softmax([3, 0, 0]).map(Math.log);
    const expected = softmax(logpN.map((x, i) => 0.5 * x + 0.5 * logpL[i]));
    softmax(step.scores).forEach((p, i) => expect(p).toBeCloseTo(expected[i], 6));
    expect(step.layer).toBe(4);
    expect(argmax(step.scores)).toBe(0); // layer 4 pulls the choice from token 1 to token 0
    // lambda = 1 is layer 4 alone.
    expect(softmax(lfdStep(toy, lfd({ fusion: 'logprob', lambda: 1 }), [4, 5]).scores)[0]).toBeCloseTo(softmax([3, 0, 0])[0], 6);
  });

  it('logit fusion: z_N + lambda z_l*', () => {
    expect(Array.from(lfdStep(toy, lfd({ fusion: 'logit', lambda: 0.5 }), [4, 5]).scores)).toEqual([2.5, 2, 0]);
  });

  it('hidden fusion: the supplied logits of Norm_f(h_N + lambda h_l*), for l* only', () => {
    expect(Array.from(lfdStep(toy, lfd({ fusion: 'hidden' }), [4, 5]).scores)).toEqual([0, 0, 5]);
    const withoutFusion = { ...toy, hiddenFused: new Map([[5, f32([5, 0, 0])]]) };
    expect(() => lfdStep(withoutFusion, lfd({ fusion: 'hidden' }), [4, 5])).toThrow(EngineError);
  });

  it('plausibility filter: tokens with p_N < alpha max p_N get -Infinity', () => {
    // p_N = (.245, .665, .090); 0.3 * .665 = .200 cuts token 2 only.
    const step = lfdStep(toy, lfd({ fusion: 'logit', lambda: 0.5, plausibilityAlpha: 0.3 }), [4, 5]);
    expect(Array.from(step.scores)).toEqual([2.5, 2, -Infinity]);
  });

  it('always chooses a candidate layer and reports an IKS for each', () => {
    const rng = new SeededRng(21);
    for (let trial = 0; trial < 20; trial++) {
      const candidates = trial % 2 === 0 ? [3, 4] : [7];
      const step = lfdStep(randomInput(rng, 16, candidates), lfd({}), candidates);
      expect(candidates).toContain(step.layer);
      expect(Object.keys(step.candidateScores).map(Number)).toEqual(candidates);
    }
  });

  it('rejects missing lens inputs', () => {
    expect(() => lfdStep({ ...toy, residMid: new Map() }, lfd({}), [4, 5])).toThrow(/resid_mid/);
    expect(() => lfdStep(toy, lfd({}), [])).toThrow(EngineError);
  });
});
