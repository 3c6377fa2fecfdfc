import { describe, expect, it } from 'vitest';
import { token } from '../../test/fixtures';
import { diffTokens, firstDivergence } from './diff';

const baseline = [token(1, 'Once', -0.1, [[1, 'Once', -0.1], [7, 'One', -2.5]]), token(2, ' upon', -0.2, [[2, ' upon', -0.2], [9, ' there', -3]]), token(3, ' a', -0.3)];

describe('token diff against the baseline', () => {
  it('highlights nothing when the tokens are the same', () => {
    const same = diffTokens(baseline, baseline);
    expect(same.comparisons.map((c) => c.differs)).toEqual([false, false, false]);
    expect(same).toMatchObject({ firstDivergence: null, inserted: 0, dropped: 0 });
    expect(same.comparisons.map((c) => c.deltaLogprob)).toEqual([0, 0, 0]);
  });

  it('marks a substituted token as changed and the token after it as matched, in another context', () => {
    const variant = [token(1, 'Once', -0.05), token(9, ' there', -0.5), token(3, ' a', -0.4)];
    const diff = diffTokens(baseline, variant);
    expect(diff.comparisons.map((c) => c.differs)).toEqual([false, true, false]);
    expect(diff.comparisons.map((c) => c.sameContext)).toEqual([true, true, false]);
    expect(diff.comparisons[2].baselineIndex).toBe(2);
    expect(diff).toMatchObject({ firstDivergence: 1, inserted: 1, dropped: 1 });
  });

  it('aligns after an insertion instead of comparing index by index', () => {
    // Index by index, everything after the inserted ' so' would differ (4 tokens); aligned, one token is new.
    const long = [token(1, 'a', -1), token(2, 'b', -1), token(3, 'c', -1), token(4, 'd', -1), token(5, 'e', -1)];
    const variant = [long[0], long[1], token(9, ' so', -1), long[2], long[3], long[4]];
    const diff = diffTokens(long, variant);
    expect(diff.comparisons.map((c) => c.differs)).toEqual([false, false, true, false, false, false]);
    expect(diff.comparisons.map((c) => c.baselineIndex)).toEqual([0, 1, null, 2, 3, 4]);
    expect(diff).toMatchObject({ firstDivergence: 2, inserted: 1, dropped: 0 });
  });

  it('counts a dropped baseline token once', () => {
    const variant = [baseline[0], baseline[2]];
    expect(diffTokens(baseline, variant)).toMatchObject({ firstDivergence: 1, inserted: 0, dropped: 1 });
  });

  it('gives the baseline logprob only where the contexts are equal: up to and including the first divergence', () => {
    const variant = [{ ...token(7, 'One', -0.5), baselineLogprob: -2.5 }, { ...token(2, ' upon', -0.1), baselineLogprob: -0.2 }];
    const diff = diffTokens(baseline, variant);
    expect(diff.comparisons[0]).toMatchObject({ differs: true, sameContext: true, baselineLogprob: -2.5 });
    expect(diff.comparisons[0].deltaLogprob).toBeCloseTo(2);
    // ' upon' is aligned with the baseline's, but after 'One' instead of 'Once': an older engine's number is not used.
    expect(diff.comparisons[1]).toMatchObject({ differs: false, sameContext: false, baselineIndex: 1, baselineLogprob: null, deltaLogprob: null });
  });

  it('takes the baseline logprob of a different token from its top alternatives (results saved without it)', () => {
    const diff = diffTokens(baseline, [token(7, 'One', -0.5), token(5, ' x', -1)]);
    expect(diff.comparisons[0].baselineLogprob).toBe(-2.5);
    expect(diff.comparisons[1]).toMatchObject({ differs: true, sameContext: false, baselineLogprob: null });
  });

  it("prefers the engine's baseline logprob of the token, even outside the baseline's top alternatives", () => {
    const reported = { ...token(5, ' x', -1), baselineLogprob: -7.25 };
    const { comparisons } = diffTokens(baseline, [reported]);
    expect(comparisons[0]).toMatchObject({ differs: true, baselineLogprob: -7.25 });
    expect(comparisons[0].deltaLogprob).toBeCloseTo(6.25);
  });

  it('counts tokens past the end of the baseline as new', () => {
    const longer = [...baseline, token(4, ' time', -0.1)];
    const diff = diffTokens(baseline, longer);
    expect(diff.comparisons.map((c) => c.differs)).toEqual([false, false, false, true]);
    expect(firstDivergence(baseline, longer)).toBe(3);
    expect(diff).toMatchObject({ inserted: 1, dropped: 0 });
    expect(diff.comparisons[3].deltaLogprob).toBeNull();
  });
});
