/**
 * Weight groups write the same bytes whatever pieces they stream in: a float32 transpose
 * built in several bands equals the plain transpose, a quantized matrix equals
 * quantizeRows on the whole, and a float16 table equals toHalf of the tensor.
 */
import { describe, expect, it } from 'vitest';
import type { TensorInfo, WeightSource } from '../model/spec';
import { weightOptions } from '../model/weight-format';
import { toHalf } from './half';
import { quantizeRows, quantLayout } from './quantize';
import { quantizedLinear, storedTensor, transposedLinear } from './weight-groups';
import type { WeightGroup } from './weights-file';

/** One in-memory [rows, cols] tensor "w", counting the rows each read asks for. */
function matrixSource(rows: number, cols: number): { source: WeightSource; values: Float32Array; reads: number[] } {
  const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37));
  const reads: number[] = [];
  const info = (): TensorInfo => ({ shape: [rows, cols], dtype: 'F32' });
  const readRows = (_: string, first: number, count: number) => {
    reads.push(count);
    return values.slice(first * cols, (first + count) * cols);
  };
  return { values, reads, source: { files: [], has: () => true, info, read: () => values.slice(), readRows, close: () => {} } };
}

/** The bytes a group writes, per tensor, assembled from its pieces. */
function written(group: WeightGroup): Uint8Array[] {
  const sizes = group.tensors.map((t) => t.dims.reduce((a, b) => a * b, 1) * (t.elemType === 'float32' ? 4 : t.elemType === 'float16' ? 2 : 1));
  const out = sizes.map((size) => new Uint8Array(size));
  group.write((tensor, at, bytes) => out[tensor].set(bytes, at));
  return out;
}

const bytes = (array: Float32Array | Uint16Array | Uint8Array) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

describe('weight groups', () => {
  it('a float32 transpose built in bands of a few output rows equals the plain transpose', () => {
    const [rows, cols] = [7, 10];
    const { source, values, reads } = matrixSource(rows, cols);
    const group = transposedLinear('w', source, 'w', 3 * rows * 4); // bands of 3 input features: 4 passes
    expect(group.tensors[0].dims).toEqual([cols, rows]);
    const expected = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expected[c * rows + r] = values[r * cols + c];
    expect(written(group)[0]).toEqual(bytes(expected));
    expect(reads).toEqual([7, 7, 7, 7]); // the checkpoint is read once per band
  });

  it('a quantized matrix equals quantizeRows on the whole, its three tensors placed by row', () => {
    const { source, values } = matrixSource(9, 40);
    const options = weightOptions('int4', { blockSize: 16 });
    const [data, scales, zeroPoints] = written(quantizedLinear('w', source, 'w', options));
    const whole = quantizeRows(quantLayout(9, 40, 4, 16), values);
    expect([data, scales, zeroPoints]).toEqual([whole.data, bytes(whole.scales), whole.zeroPoints]);
  });

  it('a float16 table equals toHalf of the tensor', () => {
    const { source, values } = matrixSource(5, 6);
    expect(written(storedTensor('w', source, 'w', 'float16'))[0]).toEqual(bytes(toHalf(values)));
  });
});
