import { describe, expect, it } from 'vitest';
import { EngineError } from '../../errors';
import { SeededRng } from '../rng';
import { argmax } from '../sampler';
import { dolaStep, plausibilityThreshold } from './dola';

// Reference maths on plain number arrays, written independently of the implementation.
function softmax(z: number[]): number[] {
  const max = Math.max(...z);
  const exps = z.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / sum);
}
function jsd(p: number[], q: number[]): number {
  const m = p.map((pi, i) => (pi + q[i]) / 2);
  const kl = (a: number[]): number => a.reduce((sum, ai, i) => (ai > 0 ? sum + ai * Math.log(ai / m[i]) : sum), 0);
  return (kl(p) + kl(q)) / 2;
}

// A 5-token example: layer 2 disagrees with the final layer, layer 4 nearly agrees.
const finalLogits = [2.0, 1.5, 0.3, -1.0, 0.0];
const layer2Logits = [0.5, 1.8, 0.2, 0.0, -0.5];
const layer4Logits = [1.9, 1.4, 0.4, -0.9, 0.1];
const input = {
  final: Float32Array.from(finalLogits),
  premature: new Map([
    [2, Float32Array.from(layer2Logits)],
    [4, Float32Array.from(layer4Logits)],
  ]),
};

/** F(x) = log q_N(x) - log q_2(x) on V_head = {q_N >= 0.1 max q_N}, computed by hand from the arrays above. */
function expectedContrast(): number[] {
  const qN = softmax(finalLogits);
  const q2 = softmax(layer2Logits);
  const floor = 0.1 * Math.max(...qN);
  return qN.map((q, i) => (q >= floor ? Math.log(q) - Math.log(q2[i]) : -Infinity));
}

function expectScores(actual: Float32Array, expected: number[]): void {
  expected.forEach((value, id) => {
    if (value === -Infinity) expect(actual[id]).toBe(-Infinity);
    else expect(actual[id]).toBeCloseTo(value, 5);
  });
}

describe('dolaStep', () => {
  it('contrasts the final layer with the most different premature layer inside V_head', () => {
    const step = dolaStep(input, { alpha: 0.1, repetitionPenalty: 1 }, [2, 4], []);
    const qN = softmax(finalLogits);
    expect(step.candidateScores[2]).toBeCloseTo(jsd(qN, softmax(layer2Logits)), 6);
    expect(step.candidateScores[4]).toBeCloseTo(jsd(qN, softmax(layer4Logits)), 6);
    expect(step.layer).toBe(2);
    // q_N = (.506, .307, .093, .025, .069): token 3 is below 0.1 * .506 and is cut.
    expectScores(step.scores, expectedContrast());
    expect(step.headSize).toBe(4);
  });

  it('with one candidate is DoLa-static: that layer, whatever its JSD', () => {
    const step = dolaStep(input, { alpha: 0.1, repetitionPenalty: 1 }, [4], []);
    expect(step.layer).toBe(4);
    expect(Object.keys(step.candidateScores)).toEqual(['4']);
  });

  it('applies the CTRL repetition penalty to the contrast scores of seen ids', () => {
    const contrast = expectedContrast(); // (1.17, -0.63, -0.23, -inf, 0.17)
    const seen = [0, 1, 3, 0]; // 0 positive, 1 negative, 3 outside V_head; a repeat counts once
    const step = dolaStep(input, { alpha: 0.1, repetitionPenalty: 1.2 }, [2, 4], seen);
    expectScores(step.scores, [contrast[0] / 1.2, contrast[1] * 1.2, contrast[2], -Infinity, contrast[4]]);
    // A strong enough penalty moves the choice off the repeated token 0 (1.17 / 8 < 0.17).
    expect(argmax(dolaStep(input, { alpha: 0.1, repetitionPenalty: 1 }, [2, 4], seen).scores)).toBe(0);
    expect(argmax(dolaStep(input, { alpha: 0.1, repetitionPenalty: 8 }, [2, 4], seen).scores)).toBe(4);
  });

  it('always keeps the final layer’s top token (APC), and with alpha = 1 only that token', () => {
    const rng = new SeededRng(5);
    for (let trial = 0; trial < 40; trial++) {
      const vocab = 50;
      const final = Float32Array.from({ length: vocab }, () => (rng.nextFloat() - 0.5) * (1 + trial));
      const premature = new Map([1, 3, 5].map((layer) => [layer, Float32Array.from({ length: vocab }, () => rng.nextFloat() * 6)]));
      const alpha = trial % 2 === 0 ? 1 : 0.01 + rng.nextFloat() * 0.98;
      const step = dolaStep({ final, premature }, { alpha, repetitionPenalty: 1 }, [5, 1, 3], []);
      expect(Number.isFinite(step.scores[argmax(final)])).toBe(true);
      expect([1, 3, 5]).toContain(step.layer);
      if (alpha === 1) {
        expect(step.headSize).toBe(1);
        expect(argmax(step.scores)).toBe(argmax(final));
      }
    }
  });

  it('breaks JSD ties toward the lowest layer', () => {
    const same = Float32Array.from(layer2Logits);
    const tied = { final: input.final, premature: new Map([[6, same], [2, same], [4, Float32Array.from(layer4Logits)]]) };
    expect(dolaStep(tied, { alpha: 0.1, repetitionPenalty: 1 }, [6, 4, 2], []).layer).toBe(2);
  });

  it('rejects missing or mis-sized premature logits', () => {
    expect(() => dolaStep(input, { alpha: 0.1, repetitionPenalty: 1 }, [2, 8], [])).toThrow(EngineError);
    const short = { final: input.final, premature: new Map([[2, new Float32Array(4)]]) };
    expect(() => dolaStep(short, { alpha: 0.1, repetitionPenalty: 1 }, [2], [])).toThrow(/expected 5/);
    expect(() => dolaStep(input, { alpha: 0.1, repetitionPenalty: 1 }, [], [])).toThrow(EngineError);
  });
});

describe('plausibilityThreshold', () => {
  it('is log(alpha * max p), the same on logits and log-probs', () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const logprobs = Float32Array.from(probs, Math.log);
    expect(plausibilityThreshold(logprobs, 0.2)).toBeCloseTo(Math.log(0.1), 6);
    const kept = (scores: Float32Array, alpha: number): number[] => {
      const tau = plausibilityThreshold(scores, alpha);
      return [...scores.keys()].filter((id) => scores[id] >= tau);
    };
    expect(kept(logprobs, 0.2)).toEqual([0, 1, 2]);
    const logits = logprobs.map((x) => x + 3.25); // same distribution, shifted
    expect(kept(logits, 0.2)).toEqual([0, 1, 2]);
    expect(kept(logits, 1)).toEqual([0]);
  });
});
