import { describe, expect, it } from 'vitest';
import { causalMask } from './kv-cache';

/** The mask as rows of 0/1 (1 where a query may attend). */
const visible = (mask: Float32Array, seq: number): number[][] =>
  Array.from({ length: seq }, (_, s) => Array.from(mask.subarray((s * mask.length) / seq, ((s + 1) * mask.length) / seq), (v) => (v === 0 ? 1 : 0)));

describe('causalMask', () => {
  it('lets query i see keys 0..i', () => {
    expect(visible(causalMask(0, 3), 3)).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [1, 1, 1],
    ]);
  });

  it("with a window W, lets query i see keys i - W < j <= i: W keys, itself included (transformers' sliding_window_overlay)", () => {
    expect(visible(causalMask(0, 5, 2), 5)).toEqual([
      [1, 0, 0, 0, 0],
      [1, 1, 0, 0, 0],
      [0, 1, 1, 0, 0],
      [0, 0, 1, 1, 0],
      [0, 0, 0, 1, 1],
    ]);
  });

  it('counts cached positions: one new query at position 6 with window 3 sees keys 4, 5, 6', () => {
    expect(visible(causalMask(6, 1, 3), 1)).toEqual([[0, 0, 0, 0, 1, 1, 1]]);
  });
});
