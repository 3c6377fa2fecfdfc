import { describe, expect, it } from 'vitest';
import { fromHalfBits } from '../../test/reference/quantized-weights';
import { toHalfBits } from './half';

describe('toHalfBits', () => {
  it('encodes representable values exactly', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [value, bits] of cases) expect(toHalfBits(value), String(value)).toBe(bits);
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalfBits(NaN) & 0x3ff).not.toBe(0);
  });

  it('rounds to nearest, ties to even, in normals and subnormals, and overflows to infinity', () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (1)
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (1 + 2^-9)
    expect(toHalfBits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(toHalfBits(3 * 2 ** -25)).toBe(0x0002); // tie between subnormals 1 and 2 -> 2
    expect(toHalfBits(65520)).toBe(0x7c00); // halfway past the largest half: rounds up to infinity
    expect(toHalfBits(70000)).toBe(0x7c00);
  });

  it('is within half a unit in the last place over a sweep of magnitudes', () => {
    for (let e = -20; e <= 15; e++) {
      for (const m of [1.1, 1.37, 1.5001, 1.999]) {
        const value = -m * 2 ** e;
        const decoded = fromHalfBits(toHalfBits(value));
        const ulp = 2 ** (Math.max(e, -14) - 10);
        expect(Math.abs(decoded - value), String(value)).toBeLessThanOrEqual(ulp / 2);
      }
    }
  });
});
