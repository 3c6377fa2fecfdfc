/**
 * Reference views of quantized weights, for tests only, written from the MatMulNBits spec
 * (onnxruntime docs/ContribOperators.md) and IEEE 754 rather than from the engine's code:
 * what a quantized linear weight and a float16 embedding table stand for in float32.
 */
import type { QuantBits, QuantizedRows, QuantLayout } from '../../engine/graph/quantize';

/** The spec's unpacking: code i of a packed run (8-bit bytes, or 4-bit nibbles low first). */
export function codeAt(bytes: Uint8Array, offset: number, bits: QuantBits, i: number): number {
  if (bits === 8) return bytes[offset + i];
  const byte = bytes[offset + Math.floor(i / 2)];
  return i % 2 === 0 ? byte & 0x0f : byte >> 4;
}

/** W[n, k] = (q - zero_point) * scale, per block of K. */
export function dequantize(layout: QuantLayout, packed: QuantizedRows): Float32Array {
  const { rows, cols, bits, blockSize, blocksPerRow, blockBytes, zeroPointBytesPerRow } = layout;
  const out = new Float32Array(rows * cols);
  for (let n = 0; n < rows; n++) {
    for (let k = 0; k < cols; k++) {
      const block = Math.floor(k / blockSize);
      const q = codeAt(packed.data, (n * blocksPerRow + block) * blockBytes, bits, k % blockSize);
      const zeroPoint = codeAt(packed.zeroPoints, n * zeroPointBytesPerRow, bits, block);
      out[n * cols + k] = (q - zeroPoint) * packed.scales[n * blocksPerRow + block];
    }
  }
  return out;
}

/** IEEE half precision bits -> value. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
