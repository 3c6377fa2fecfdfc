/**
 * The weight groups a graph's file is written from (weights-file.ts), each converting one
 * checkpoint tensor a few rows at a time: no conversion holds a whole tensor plus its
 * converted copy. Only the float32 transpose keeps a band of its output (up to 1 GiB),
 * because each checkpoint row becomes a column of it; its input still streams.
 */
import { rowChunks, type WeightSource } from '../model/spec';
import { CONVERSION_CHUNK_BYTES, TRANSPOSE_PASS_BYTES, type WeightOptions } from '../model/weight-format';
import { toHalf } from './half';
import { quantizeRows, quantLayout, type QuantLayout } from './quantize';
import type { StoredTensor, WeightGroup } from './weights-file';


const bytesOf = (array: Float32Array | Uint16Array | Uint8Array): Uint8Array => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

/** A small tensor computed whole (norm gains, rotary tables). */
export function computedTensor(name: string, dims: number[], produce: () => Float32Array): WeightGroup {
  const count = dims.reduce((product, dim) => product * dim, 1);
  return {
    tensors: [{ name, elemType: 'float32', dims }],
    sourceBytes: count * 4,
    write: (put) => put(0, 0, bytesOf(produce())),
  };
}

/** A checkpoint tensor stored as it is laid out, in float32 or float16 (the embedding table). */
export function storedTensor(name: string, source: WeightSource, param: string, elemType: 'float32' | 'float16'): WeightGroup {
  const { shape } = source.info(param);
  const count = shape.reduce((product, dim) => product * dim, 1);
  const bytesPerElement = elemType === 'float32' ? 4 : 2;
  return {
    tensors: [{ name, elemType, dims: shape }],
    sourceBytes: count * 4,
    write: (put) => {
      const rowElements = count / Math.max(1, shape[0] ?? 1);
      for (const { first, rows } of rowChunks(source, param, CONVERSION_CHUNK_BYTES)) {
        put(0, first * rowElements * bytesPerElement, bytesOf(elemType === 'float32' ? rows : toHalf(rows)));
      }
    },
  };
}

/**
 * A Hugging Face linear weight [out, in] as MatMul's float32 [in, out]. Each checkpoint row
 * becomes a column, so a pass builds a band of output rows (input features) from every
 * checkpoint row; a matrix larger than one pass is read once per band.
 */
export function transposedLinear(name: string, source: WeightSource, param: string, passBytes = TRANSPOSE_PASS_BYTES): WeightGroup {
  const [outFeatures, inFeatures] = source.info(param).shape;
  return {
    tensors: [{ name, elemType: 'float32', dims: [inFeatures, outFeatures] }],
    sourceBytes: outFeatures * inFeatures * 4,
    write: (put) => {
      const bandRows = Math.max(1, Math.floor(passBytes / (outFeatures * 4)));
      for (let bandStart = 0; bandStart < inFeatures; bandStart += bandRows) {
        const bandEnd = Math.min(inFeatures, bandStart + bandRows);
        const band = new Float32Array((bandEnd - bandStart) * outFeatures);
        for (const { first, rows } of rowChunks(source, param, CONVERSION_CHUNK_BYTES)) {
          const count = rows.length / inFeatures;
          for (let r = 0; r < count; r++) {
            for (let c = bandStart; c < bandEnd; c++) band[(c - bandStart) * outFeatures + first + r] = rows[r * inFeatures + c];
          }
        }
        put(0, bandStart * outFeatures * 4, bytesOf(band));
      }
    },
  };
}

/** Names of the three MatMulNBits inputs a quantized weight `name` is stored as. */
export const quantizedNames = (name: string) => ({ data: name, scales: `${name}.scales`, zeroPoints: `${name}.zero_points` });

/**
 * A Hugging Face linear weight [out = N, in = K] in MatMulNBits layout, which keeps the
 * checkpoint's row order: each chunk of rows is quantized and written at its place.
 */
export function quantizedLinear(name: string, source: WeightSource, param: string, options: WeightOptions): WeightGroup {
  if (options.format === 'f32') throw new Error(`quantizedLinear(${name}) called for float32 weights`);
  const [rows, cols] = source.info(param).shape;
  const layout = quantLayout(rows, cols, options.format === 'int8' ? 8 : 4, options.blockSize);
  const names = quantizedNames(name);
  const tensors: StoredTensor[] = [
    { name: names.data, elemType: 'uint8', dims: [rows, layout.blocksPerRow, layout.blockBytes] },
    { name: names.scales, elemType: 'float32', dims: [rows * layout.blocksPerRow] },
    { name: names.zeroPoints, elemType: 'uint8', dims: [rows * layout.zeroPointBytesPerRow] },
  ];
  return {
    tensors,
    sourceBytes: rows * cols * 4,
    write: (put) => {
      for (const { first, rows: values } of rowChunks(source, param, CONVERSION_CHUNK_BYTES)) {
        const packed = quantizeRows(layout, values);
        put(0, first * layout.blocksPerRow * layout.blockBytes, packed.data);
        put(1, first * layout.blocksPerRow * 4, bytesOf(packed.scales));
        put(2, first * layout.zeroPointBytesPerRow, packed.zeroPoints);
      }
    },
  };
}

/** MatMulNBits attributes for a weight stored by quantizedLinear. */
export function matMulNBitsAttributes(layout: Pick<QuantLayout, 'rows' | 'cols' | 'bits' | 'blockSize'>, accuracyLevel: number): Record<string, number> {
  return { K: layout.cols, N: layout.rows, bits: layout.bits, block_size: layout.blockSize, accuracy_level: accuracyLevel };
}
