import { describe, expect, it } from 'vitest';
import { alignIds, type Pair } from './align';

/** An LCS by the textbook recurrence, for checking lengths on small inputs. */
function lcsLength(a: number[], b: number[]): number {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) table[i][j] = a[i - 1] === b[j - 1] ? table[i - 1][j - 1] + 1 : Math.max(table[i - 1][j], table[i][j - 1]);
  return table[a.length][b.length];
}

function expectValid(a: number[], b: number[], pairs: Pair[]): void {
  pairs.forEach(([i, j], k) => {
    expect(a[i]).toBe(b[j]);
    if (k > 0) {
      expect(i).toBeGreaterThan(pairs[k - 1][0]);
      expect(j).toBeGreaterThan(pairs[k - 1][1]);
    }
  });
}

/** A seeded stream of small ids (mulberry32), so the cases are the same on every run. */
function ids(seed: number, length: number, alphabet: number): number[] {
  let state = seed;
  return Array.from({ length }, () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) % alphabet;
  });
}

describe('token alignment', () => {
  it('matches a common prefix and suffix around a change', () => {
    expect(alignIds([1, 2, 3, 4], [1, 9, 3, 4])).toEqual([
      [0, 0],
      [2, 2],
      [3, 3],
    ]);
    expect(alignIds([], [1, 2])).toEqual([]);
  });

  it('finds a longest common subsequence on random small inputs', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const a = ids(seed, 5 + (seed % 30), 4);
      const b = ids(seed * 7919, 3 + ((seed * 3) % 30), 4);
      const pairs = alignIds(a, b);
      expectValid(a, b, pairs);
      expect(pairs.length, `seed ${seed}`).toBe(lcsLength(a, b));
    }
  });

  it('aligns long outputs (8192 tokens each) through unique anchors, within a bounded table', () => {
    const a = Array.from({ length: 8192 }, (_, i) => i);
    const b = a.filter((id) => id % 97 !== 0).flatMap((id) => (id % 1000 === 1 ? [id, 100_000 + id] : [id]));
    const pairs = alignIds(a, b); // exact DP would need 8192² cells; anchors leave gaps of a few tokens
    expectValid(a, b, pairs);
    expect(pairs.length).toBe(a.filter((id) => id % 97 !== 0).length);
  });

  it('leaves a long span with no unique token unaligned rather than building a huge table', () => {
    const a = [7, ...ids(3, 1200, 2), 8];
    const b = [7, ...ids(5, 1100, 2), 8];
    const pairs = alignIds(a, b);
    expectValid(a, b, pairs);
    expect(pairs[0]).toEqual([0, 0]);
    expect(pairs.at(-1)).toEqual([a.length - 1, b.length - 1]);
  });
});
