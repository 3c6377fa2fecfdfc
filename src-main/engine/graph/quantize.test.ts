/**
 * MatMulNBits packing against a reference dequantization written from the op's spec
 * (test/reference/quantized-weights.ts): exact bytes for a hand-worked block, the error bound
 * and exact zeros on random odd-sized matrices with a partial last block, row-chunked
 * quantization equal to whole-matrix quantization, and onnxruntime's MatMulNBits on the
 * packed weights equal to a MatMul with the dequantized weights.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime } from '../runtime/runtime';
import { float32 } from '../runtime/tensor';
import { expectEngineError } from '../../test/expect-engine-error';
import { MS_DOMAIN } from './builder';
import { encodeModel, type ModelProtoData } from './onnx-proto';
import { codeAt, dequantize } from '../../test/reference/quantized-weights';
import { quantizedBytes, quantizeRows, quantLayout, type QuantLayout, type QuantizedRows } from './quantize';

/** Seeded uniform values in [-1, 1) (a small LCG: deterministic, no dependency). */
function randomValues(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

describe('quantizeRows', () => {
  it('packs a hand-worked 4-bit block byte for byte', () => {
    // Range [-1, 2] -> scale 3/15 = 0.2, zero point round(1 / 0.2) = 5; codes 0, 5, 15, then padding at the zero point.
    const layout = quantLayout(1, 3, 4, 16);
    const packed = quantizeRows(layout, Float32Array.of(-1, 0, 2));
    expect(Array.from(packed.data)).toEqual([0x50, 0x5f, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55]);
    expect(Array.from(packed.zeroPoints)).toEqual([0x05]);
    expect(packed.scales[0]).toBe(Math.fround(0.2));
  });

  it('packs 8-bit codes one per byte with one zero-point byte per block', () => {
    // Range [0, 2.55] (0 is always in range) -> scale 0.01, zero point 0.
    const layout = quantLayout(1, 3, 8, 16);
    const packed = quantizeRows(layout, Float32Array.of(2.55, 1, 0));
    expect(Array.from(packed.data.subarray(0, 4))).toEqual([255, 100, 0, 0]);
    expect(Array.from(packed.zeroPoints)).toEqual([0]);
  });

  it('packs 4-bit zero points of consecutive blocks into nibble pairs, low first', () => {
    // Three blocks of 16: all-positive (zero point 0), all-negative (15), all-zero (0) -> bytes 0xf0, 0x00.
    const values = new Float32Array(48);
    values.fill(1, 0, 16);
    values.fill(-1, 16, 32);
    const layout = quantLayout(1, 48, 4, 16);
    const packed = quantizeRows(layout, values);
    expect(Array.from(packed.zeroPoints)).toEqual([0xf0, 0x00]);
    expect(Array.from(dequantize(layout, packed))).toEqual(Array.from(values));
  });

  for (const bits of [4, 8] as const) {
    it(`${bits}-bit: odd sizes and a partial last block dequantize within half a step, zeros exactly`, () => {
      const layout = quantLayout(7, 45, bits, 16); // three blocks per row, the last one 13 wide
      const values = randomValues(7 * 45, bits);
      values[3] = 0;
      values[7 * 45 - 1] = 0; // in the partial block
      const packed = quantizeRows(layout, values);
      const sizes = quantizedBytes(layout);
      expect([packed.data.length, packed.scales.length * 4, packed.zeroPoints.length]).toEqual([sizes.data, sizes.scales, sizes.zeroPoints]);
      const restored = dequantize(layout, packed);
      for (let i = 0; i < values.length; i++) {
        const scale = packed.scales[Math.floor(i / 45) * 3 + Math.floor((i % 45) / 16)];
        expect(Math.abs(restored[i] - values[i])).toBeLessThanOrEqual(scale / 2 + 1e-7);
      }
      expect([restored[3], restored[7 * 45 - 1]]).toEqual([0, 0]);
      // The padded tail of each row's last block holds the zero point (it dequantizes to 0).
      for (let n = 0; n < 7; n++) {
        const zeroPoint = codeAt(packed.zeroPoints, n * layout.zeroPointBytesPerRow, bits, 2);
        for (let i = 13; i < 16; i++) expect(codeAt(packed.data, (n * 3 + 2) * layout.blockBytes, bits, i)).toBe(zeroPoint);
      }
    });

    it(`${bits}-bit: quantizing a few rows at a time gives the same bytes as the whole matrix`, () => {
      const layout = quantLayout(5, 70, bits, 32);
      const values = randomValues(5 * 70, 10 + bits);
      const whole = quantizeRows(layout, values);
      const parts = [values.subarray(0, 140), values.subarray(140, 210), values.subarray(210)].map((part) => quantizeRows(layout, part));
      const concat = <T extends Uint8Array | Float32Array>(arrays: T[]): number[] => arrays.flatMap((a) => Array.from(a));
      expect(concat(parts.map((p) => p.data))).toEqual(Array.from(whole.data));
      expect(concat(parts.map((p) => p.scales))).toEqual(Array.from(whole.scales));
      expect(concat(parts.map((p) => p.zeroPoints))).toEqual(Array.from(whole.zeroPoints));
    });
  }

  it('refuses a block size MatMulNBits does not accept', async () => {
    await expectEngineError(() => quantLayout(4, 64, 4, 24), 'bad_argument', 'block size 24');
    await expectEngineError(() => quantLayout(4, 64, 4, 8), 'bad_argument', 'block size 8');
  });
});

describe('onnxruntime MatMulNBits on the packed weights', () => {
  const runtime = new Runtime({ threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'tiller-quantize-'));
  afterAll(async () => {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A one-node model: Y = A · dequantize(B)ᵀ, with the packed tensors inline. */
  function matMulNBitsModel(layout: QuantLayout, packed: QuantizedRows): ModelProtoData {
    const { rows: n, cols: k, bits, blockSize } = layout;
    const bytes = (array: Float32Array | Uint8Array) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    return {
      irVersion: 10,
      opsets: { '': 21, [MS_DOMAIN]: 1 },
      producer: 'tiller-test',
      graph: {
        name: 'matmulnbits',
        nodes: [{ opType: 'MatMulNBits', domain: MS_DOMAIN, name: 'q', inputs: ['A', 'B', 'scales', 'zero_points'], outputs: ['Y'], attributes: { K: k, N: n, bits, block_size: blockSize } }],
        initializers: [
          { name: 'B', elemType: 'uint8', dims: [n, layout.blocksPerRow, layout.blockBytes], data: packed.data },
          { name: 'scales', elemType: 'float32', dims: [n * layout.blocksPerRow], data: bytes(packed.scales) },
          { name: 'zero_points', elemType: 'uint8', dims: [packed.zeroPoints.length], data: packed.zeroPoints },
        ],
        inputs: [{ name: 'A', elemType: 'float32', dims: ['m', k] }],
        outputs: [{ name: 'Y', elemType: 'float32', dims: ['m', n] }],
      },
    };
  }

  for (const bits of [4, 8] as const) {
    it(`${bits}-bit, K = 45 (partial block), N = 11: equals the dequantized matmul`, async () => {
      const [m, n, k] = [3, 11, 45];
      const layout = quantLayout(n, k, bits, 16);
      const packed = quantizeRows(layout, randomValues(n * k, 20 + bits));
      const path = join(dir, `q${bits}.onnx`);
      writeFileSync(path, encodeModel(matMulNBitsModel(layout, packed)));
      const session = await runtime.createSession(path);
      const a = randomValues(m * k, 30 + bits);
      const { outputs } = await session.run({ A: float32([m, k], a) }, ['Y']);
      await session.release();
      const weights = dequantize(layout, packed);
      const y = outputs.Y.data as Float32Array;
      for (let row = 0; row < m; row++) {
        for (let col = 0; col < n; col++) {
          let expected = 0;
          for (let i = 0; i < k; i++) expected += a[row * k + i] * weights[col * k + i];
          expect(Math.abs(y[row * n + col] - expected), `Y[${row}, ${col}]`).toBeLessThan(1e-5);
        }
      }
    });
  }
});
