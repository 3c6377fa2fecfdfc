import { describe, expect, it } from 'vitest';
import { SeededRng } from '../rng';
import { logSoftmax } from '../sampler';
import { jensenShannon } from './divergence';

const logs = (probs: number[]): Float32Array => Float32Array.from(probs, (p) => Math.log(p));

/** Direct JSD from probabilities, written independently of the implementation. */
function referenceJsd(p: number[], q: number[]): number {
  const kl = (a: number[], m: number[]): number => a.reduce((sum, ai, i) => (ai > 0 ? sum + ai * Math.log(ai / m[i]) : sum), 0);
  const m = p.map((pi, i) => (pi + q[i]) / 2);
  return kl(p, m) / 2 + kl(q, m) / 2;
}

function randomLogits(rng: SeededRng, vocab: number, spread: number): Float32Array {
  return Float32Array.from({ length: vocab }, () => (rng.nextFloat() - 0.5) * spread);
}

describe('jensenShannon', () => {
  it('matches a hand-computed value: P = (1/2, 1/2), Q = (1, 0) gives 3/4 ln(4/3)', () => {
    // M = (3/4, 1/4); KL(P||M) = 1/2 ln(4/3); KL(Q||M) = ln(4/3); JSD = 1/2 (1/2 + 1) ln(4/3).
    expect(jensenShannon(logs([0.5, 0.5]), logs([1, 0]))).toBeCloseTo(0.75 * Math.log(4 / 3), 7);
  });

  it('is exactly 0 for equal distributions, including zero-probability tokens', () => {
    const p = logs([0.7, 0.2, 0.1, 0]);
    expect(jensenShannon(p, p)).toBe(0);
    expect(jensenShannon(p, Float32Array.from(p))).toBe(0);
  });

  it('is ln 2 for disjoint supports, its maximum', () => {
    // ln(1/2) is rounded to float32, hence 8 digits.
    expect(jensenShannon(logs([1, 0, 0]), logs([0, 0.5, 0.5]))).toBeCloseTo(Math.LN2, 8);
  });

  it('is symmetric, bounded by [0, ln 2], and equals the direct formula on random distributions', () => {
    const rng = new SeededRng(11);
    for (let trial = 0; trial < 50; trial++) {
      const logP = logSoftmax(randomLogits(rng, 64, 1 + trial));
      const logQ = logSoftmax(randomLogits(rng, 64, 1 + trial));
      const jsd = jensenShannon(logP, logQ);
      expect(jensenShannon(logQ, logP)).toBe(jsd);
      expect(jsd).toBeGreaterThanOrEqual(0);
      expect(jsd).toBeLessThanOrEqual(Math.LN2);
      const p = Array.from(logP, Math.exp);
      const q = Array.from(logQ, Math.exp);
      expect(jsd).toBeCloseTo(referenceJsd(p, q), 6);
    }
  });

  it('sums over the vocabulary (HF reports this divided by d_vocab)', () => {
    // Duplicating every token with half its probability leaves JSD unchanged; a mean would halve it.
    const p = [0.6, 0.3, 0.1];
    const q = [0.2, 0.2, 0.6];
    const twice = (probs: number[]): number[] => probs.flatMap((x) => [x / 2, x / 2]);
    expect(jensenShannon(logs(twice(p)), logs(twice(q)))).toBeCloseTo(jensenShannon(logs(p), logs(q)), 7);
  });
});
