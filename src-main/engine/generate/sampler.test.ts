import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedPath } from '../../test/shared-paths';
import { SeededRng } from './rng';
import {
  applyRepetitionPenalty,
  argmax,
  chooseToken,
  logSoftmax,
  nucleus,
  sampleIndex,
  softmaxWithTemperature,
  topAlternatives,
  topKIds,
  type SamplingParams,
} from './sampler';

/** Seeded random logits; rounding to 0.5 makes ties common so tie-breaking is exercised. */
function randomLogits(seed: number, vocabSize: number, roundToHalf = false): Float32Array {
  const rng = new SeededRng(seed);
  return Float32Array.from({ length: vocabSize }, () => {
    const logit = rng.nextFloat() * 8 - 4;
    return roundToHalf ? Math.round(logit * 2) / 2 : logit;
  });
}

function softmax(values: number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

/** Empirical frequency of each id over `draws` seeded samples. */
function frequencies(logits: Float32Array, params: SamplingParams, draws: number): number[] {
  const rng = new SeededRng(2024);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[chooseToken(logits, params, rng)]++;
  return counts.map((count) => count / draws);
}

const greedy: SamplingParams = { temperature: 0, topK: 0, topP: 1 };

describe('greedy and argmax', () => {
  it('picks the largest logit, ties to the lowest id', () => {
    expect(argmax([1, 3, 2])).toBe(1);
    expect(argmax([0, 5, 5, 1])).toBe(1);
  });

  it('matches the argmax of the stories260K reference logits', () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260k.json'), 'utf8')) as {
      logits_last: number[];
      greedy_from_bos_200: number[];
      prompt_ids: number[];
    };
    const nextId = golden.greedy_from_bos_200[golden.prompt_ids.length];
    expect(chooseToken(Float32Array.from(golden.logits_last), greedy, new SeededRng(0))).toBe(nextId);
  });

  it('temperature 0, top-k 1 and a tiny top-p all equal argmax', () => {
    for (let seed = 0; seed < 50; seed++) {
      const logits = randomLogits(seed, 300, seed % 2 === 0);
      const rng = new SeededRng(seed);
      const expected = argmax(logits);
      expect(chooseToken(logits, greedy, rng)).toBe(expected);
      expect(chooseToken(logits, { temperature: 1, topK: 1, topP: 1 }, rng)).toBe(expected);
      expect(chooseToken(logits, { temperature: 1, topK: 0, topP: 1e-9 }, rng)).toBe(expected);
    }
  });

  it('a tiny top-p keeps one token even when the distribution is flat', () => {
    // run.c's cutoff (1 - p) / (n - 1) exceeds every probability here; the top token must survive.
    expect(chooseToken(new Float32Array(1000), { temperature: 1, topK: 0, topP: 1e-6 }, new SeededRng(3))).toBe(0);
  });
});

describe('seeded sampling', () => {
  const params: SamplingParams = { temperature: 1.2, topK: 40, topP: 0.95 };
  const sample = (seed: number): number[] => {
    const rng = new SeededRng(seed);
    return Array.from({ length: 50 }, (_, step) => chooseToken(randomLogits(step, 500), params, rng));
  };

  it('is reproducible for a seed and differs across seeds', () => {
    expect(sample(11)).toEqual(sample(11));
    expect(sample(11)).not.toEqual(sample(12));
  });

  it('draws with frequencies of softmax(logits / T)', () => {
    const logits = Float32Array.from([1, 2, 0.5, -1, 0]);
    const temperature = 0.7;
    const expected = softmax([...logits].map((logit) => logit / temperature));
    const observed = frequencies(logits, { temperature, topK: 0, topP: 1 }, 50_000);
    observed.forEach((frequency, id) => expect(Math.abs(frequency - expected[id])).toBeLessThan(0.01));
  });

  it('top-k and top-p renormalise over the tokens they keep', () => {
    const logits = Float32Array.from([1, 2, 0.5, -1, 0]);
    const [p0, p1] = softmax([1, 2]);
    const topK = frequencies(logits, { temperature: 1, topK: 2, topP: 1 }, 20_000);
    expect(topK[0]).toBeCloseTo(p0, 1);
    expect(topK[1]).toBeCloseTo(p1, 1);
    expect(topK[2] + topK[3] + topK[4]).toBe(0);
    // softmax(logits) = [.21, .56, .13, .03, .08]: p = 0.75 needs the two most likely tokens.
    const topP = frequencies(logits, { temperature: 1, topK: 0, topP: 0.75 }, 20_000);
    expect(topP[0]).toBeCloseTo(p0, 1);
    expect(topP[2] + topP[3] + topP[4]).toBe(0);
  });
});

describe('logit transforms', () => {
  it('repetition penalty divides positive and multiplies negative logits of context ids, once', () => {
    const logits = Float32Array.from([2, -2, 1, 0, 3]);
    const penalized = applyRepetitionPenalty(logits, [0, 1, 1, 3], 2);
    expect([...penalized]).toEqual([1, -4, 1, 0, 3]);
    expect([...logits]).toEqual([2, -2, 1, 0, 3]); // input untouched
    expect(applyRepetitionPenalty(logits, [0], 1)).toBe(logits);
  });

  it('logSoftmax sums to 1 in probability space and survives huge logits', () => {
    for (const logits of [randomLogits(5, 1000), Float32Array.from([1000, 999, -1000])]) {
      const logprobs = logSoftmax(logits);
      const total = logprobs.reduce((sum, logprob) => sum + Math.exp(logprob), 0);
      expect(total).toBeCloseTo(1, 5);
      expect(argmax(logprobs)).toBe(argmax(logits));
    }
  });

  it('softmaxWithTemperature matches softmax(logits / T) over the given ids', () => {
    const logits = Float32Array.from([1, 2, 3]);
    const probs = softmaxWithTemperature(logits, Int32Array.from([2, 0]), 0.5);
    const [p2, p0] = softmax([3 / 0.5, 1 / 0.5]);
    expect(probs[0]).toBeCloseTo(p2, 12);
    expect(probs[1]).toBeCloseTo(p0, 12);
  });
});

describe('selection', () => {
  it('topKIds equals a full sort by value then id', () => {
    for (let seed = 0; seed < 20; seed++) {
      const values = randomLogits(seed, 200, true);
      const sorted = [...values.keys()].sort((a, b) => values[b] - values[a] || a - b);
      for (const k of [1, 5, 37, 200]) expect([...topKIds(values, k)]).toEqual(sorted.slice(0, k));
    }
    expect([...topKIds([1, 2], 0)]).toEqual([]);
    expect([...topKIds([1, 2], 10)]).toEqual([1, 0]);
  });

  it('topAlternatives lists the five most likely, most likely first, ties to the lowest id', () => {
    const logprobs = logSoftmax(Float32Array.from([0, 3, 1, 3, 2, -1, 2.5, 0.5]));
    const top = topAlternatives(logprobs);
    expect(top.map((alt) => alt.id)).toEqual([1, 3, 6, 4, 2]);
    expect(top.map((alt) => alt.logprob)).toEqual([1, 3, 6, 4, 2].map((id) => logprobs[id]));
    expect(topAlternatives(logprobs, 2).map((alt) => alt.id)).toEqual([1, 3]);
  });

  it('nucleus keeps the smallest most-likely set reaching p, sorted and renormalised', () => {
    const candidates = { ids: Int32Array.from([7, 3, 9]), probs: Float64Array.from([0.2, 0.5, 0.3]) };
    const kept = nucleus(candidates, 0.75);
    expect([...kept.ids]).toEqual([3, 9]);
    expect(kept.probs[0]).toBeCloseTo(0.625, 12);
    expect(kept.probs[1]).toBeCloseTo(0.375, 12);
    expect([...nucleus(candidates, 0.5).ids]).toEqual([3]); // 0.5 >= 0.5: one is enough
    expect([...nucleus(candidates, 0.9).ids]).toEqual([3, 9, 7]);
    expect(nucleus(candidates, 1)).toBe(candidates);
  });

  it('sampleIndex inverts the cumulative distribution', () => {
    const probs = Float64Array.from([0.25, 0.5, 0.25]);
    expect([0, 0.24, 0.25, 0.74, 0.75, 0.999].map((draw) => sampleIndex(probs, draw))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(sampleIndex(Float64Array.from([0.3, 0.3]), 0.9)).toBe(1); // mass short of the draw: last index
  });
});
