import { describe, expect, it } from 'vitest';
import { token } from '../../test/fixtures';
import { compareTokens, countDiffering, firstDivergence } from './diff';

const baseline = [token(1, 'Once', -0.1, [[1, 'Once', -0.1], [7, 'One', -2.5]]), token(2, ' upon', -0.2, [[2, ' upon', -0.2], [9, ' there', -3]]), token(3, ' a', -0.3)];

describe('token diff against the baseline', () => {
  it('highlights nothing when the tokens are the same', () => {
    const same = compareTokens(baseline, baseline);
    expect(same.map((c) => c.differs)).toEqual([false, false, false]);
    expect(firstDivergence(baseline, baseline)).toBeNull();
    expect(same.map((c) => c.deltaLogprob)).toEqual([0, 0, 0]);
  });

  it('highlights tokens whose id differs at the same index', () => {
    const variant = [token(1, 'Once', -0.05), token(9, ' there', -0.5), token(3, ' a', -0.4)];
    const comparisons = compareTokens(baseline, variant);
    expect(comparisons.map((c) => c.differs)).toEqual([false, true, false]);
    expect(comparisons.map((c) => c.diverged)).toEqual([false, true, true]);
    expect(firstDivergence(baseline, variant)).toBe(1);
    expect(countDiffering(comparisons)).toBe(1);
  });

  it('takes the baseline logprob of a different token from its top alternatives', () => {
    const comparisons = compareTokens(baseline, [token(7, 'One', -0.5), token(5, ' x', -1)]);
    expect(comparisons[0].baselineLogprob).toBe(-2.5);
    expect(comparisons[0].deltaLogprob).toBeCloseTo(2);
    expect(comparisons[1]).toMatchObject({ differs: true, baselineLogprob: null, deltaLogprob: null });
  });

  it("prefers the engine's baseline logprob of the token, even outside the baseline's top alternatives", () => {
    const reported = { ...token(5, ' x', -1), baselineLogprob: -7.25 };
    const [comparison] = compareTokens(baseline, [reported]);
    expect(comparison).toMatchObject({ differs: true, baselineLogprob: -7.25 });
    expect(comparison.deltaLogprob).toBeCloseTo(6.25);
  });

  it('counts tokens past the end of the baseline as differing', () => {
    const longer = [...baseline, token(4, ' time', -0.1)];
    const comparisons = compareTokens(baseline, longer);
    expect(comparisons.map((c) => c.differs)).toEqual([false, false, false, true]);
    expect(firstDivergence(baseline, longer)).toBe(3);
    expect(comparisons[3].deltaLogprob).toBeNull();
  });
});
