/**
 * Blockwise asymmetric quantization in the layout of onnxruntime's MatMulNBits contrib op
 * (com.microsoft, docs/ContribOperators.md; ORT-NOTES.md section 2).
 *
 * A linear weight W is kept in the Hugging Face layout [N = out_features, K = in_features].
 * Each row is cut into ceil(K / block) blocks along K; each block gets a float32 scale and
 * an integer zero point so that  w ≈ (q - zero_point) * scale  with q in [0, 2^bits - 1]:
 *
 *   B            uint8   [N, n_blocks, block * bits / 8]   4-bit: two values per byte, low nibble first
 *   scales       float32 [N * n_blocks]
 *   zero_points  uint8   [N * ceil(n_blocks * bits / 8)]   4-bit: two per byte, low nibble first
 *
 * The range of every block includes 0, so 0 is exactly representable (q = zero_point).
 * The tail of the last block (K not a multiple of the block) is padded with the zero point.
 * Rows are independent, so a matrix can be quantized a few rows at a time while it streams
 * from the checkpoint.
 */
import { EngineError } from '../errors';

export type QuantBits = 4 | 8;

export interface QuantLayout {
  rows: number; // N
  cols: number; // K
  bits: QuantBits;
  blockSize: number;
  blocksPerRow: number;
  /** Bytes of one block of B (block * bits / 8). */
  blockBytes: number;
  /** Bytes of zero points per row: ceil(n_blocks * bits / 8). */
  zeroPointBytesPerRow: number;
}

/** Quantized rows of a matrix, or the whole of it: the three inputs MatMulNBits reads. */
export interface QuantizedRows {
  data: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/** MatMulNBits accepts a power-of-two block of at least 16 elements. */
export function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new EngineError('bad_argument', `quantization block size ${blockSize} is not a power of two of at least 16`);
  }
}

export function quantLayout(rows: number, cols: number, bits: QuantBits, blockSize: number): QuantLayout {
  checkBlockSize(blockSize);
  const blocksPerRow = Math.ceil(cols / blockSize);
  return {
    rows,
    cols,
    bits,
    blockSize,
    blocksPerRow,
    blockBytes: (blockSize * bits) / 8,
    zeroPointBytesPerRow: Math.ceil((blocksPerRow * bits) / 8),
  };
}

/** Bytes of each MatMulNBits input for `rowCount` rows of this layout. */
export function quantizedBytes(layout: QuantLayout, rowCount = layout.rows): { data: number; scales: number; zeroPoints: number } {
  return {
    data: rowCount * layout.blocksPerRow * layout.blockBytes,
    scales: rowCount * layout.blocksPerRow * 4,
    zeroPoints: rowCount * layout.zeroPointBytesPerRow,
  };
}

/** Quantize `weights` ([rowCount, K] row-major, rowCount = weights.length / K) into fresh arrays. */
export function quantizeRows(layout: QuantLayout, weights: Float32Array): QuantizedRows {
  const { cols, bits, blockSize, blocksPerRow, blockBytes, zeroPointBytesPerRow } = layout;
  if (weights.length % cols !== 0) throw new Error(`quantizeRows: ${weights.length} values are not whole rows of ${cols}`);
  const rowCount = weights.length / cols;
  const sizes = quantizedBytes(layout, rowCount);
  const out: QuantizedRows = { data: new Uint8Array(sizes.data), scales: new Float32Array(sizes.scales / 4), zeroPoints: new Uint8Array(sizes.zeroPoints) };
  const maxQ = (1 << bits) - 1;
  const codes = new Uint8Array(blockSize);
  for (let row = 0; row < rowCount; row++) {
    for (let block = 0; block < blocksPerRow; block++) {
      const start = row * cols + block * blockSize;
      const length = Math.min(blockSize, cols - block * blockSize);
      let min = 0;
      let max = 0;
      for (let i = 0; i < length; i++) {
        const w = weights[start + i];
        if (w < min) min = w;
        if (w > max) max = w;
      }
      // An all-zero block has no range; any positive scale then codes it exactly.
      const scale = max > min ? Math.fround((max - min) / maxQ) : 1;
      const zeroPoint = Math.min(maxQ, Math.max(0, Math.round(-min / scale)));
      codes.fill(zeroPoint);
      for (let i = 0; i < length; i++) codes[i] = Math.min(maxQ, Math.max(0, Math.round(weights[start + i] / scale) + zeroPoint));
      const blockIndex = row * blocksPerRow + block;
      out.scales[blockIndex] = scale;
      packCodes(codes, bits, out.data, blockIndex * blockBytes);
      packCode(zeroPoint, bits, out.zeroPoints, row * zeroPointBytesPerRow, block);
    }
  }
  return out;
}

/** One block of codes into `target` at byte `offset`: bytes as they are, or nibble pairs (low first). */
function packCodes(codes: Uint8Array, bits: QuantBits, target: Uint8Array, offset: number): void {
  if (bits === 8) {
    target.set(codes, offset);
    return;
  }
  for (let i = 0; i < codes.length; i += 2) target[offset + i / 2] = codes[i] | (codes[i + 1] << 4);
}

/** The `index`-th code of a packed run starting at byte `offset` (zero points share this packing). */
function packCode(code: number, bits: QuantBits, target: Uint8Array, offset: number, index: number): void {
  if (bits === 8) target[offset + index] = code;
  else target[offset + (index >> 1)] |= index & 1 ? code << 4 : code;
}

/** The inverse of quantizeRows: `packed` holds whole rows of `layout`, returned as float32 [rowCount, K]. */
export function dequantizeRows(layout: QuantLayout, packed: QuantizedRows): Float32Array {
  const { cols, bits, blockSize, blocksPerRow, blockBytes, zeroPointBytesPerRow } = layout;
  const rowCount = packed.scales.length / blocksPerRow;
  const out = new Float32Array(rowCount * cols);
  for (let row = 0; row < rowCount; row++) {
    for (let block = 0; block < blocksPerRow; block++) {
      const blockIndex = row * blocksPerRow + block;
      const zeroPoint = unpackCode(packed.zeroPoints, row * zeroPointBytesPerRow, bits, block);
      const scale = packed.scales[blockIndex];
      const length = Math.min(blockSize, cols - block * blockSize);
      for (let i = 0; i < length; i++) out[row * cols + block * blockSize + i] = (unpackCode(packed.data, blockIndex * blockBytes, bits, i) - zeroPoint) * scale;
    }
  }
  return out;
}

/** The `index`-th code of a packed run starting at byte `offset` (the reverse of packCode). */
function unpackCode(bytes: Uint8Array, offset: number, bits: QuantBits, index: number): number {
  if (bits === 8) return bytes[offset + index];
  const byte = bytes[offset + (index >> 1)];
  return index & 1 ? byte >> 4 : byte & 0x0f;
}
