/** Plain tensors that cross the worker boundary; onnxruntime types never leave runtime/. */
export type HostTensor =
  | { dtype: 'float32'; dims: number[]; data: Float32Array }
  | { dtype: 'int64'; dims: number[]; data: BigInt64Array }
  | { dtype: 'int32'; dims: number[]; data: Int32Array };

export type TensorMap = Record<string, HostTensor>;

export const float32 = (dims: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', dims, data });
export const int64 = (dims: number[], values: readonly number[]): HostTensor => ({
  dtype: 'int64',
  dims,
  data: BigInt64Array.from(values, (v) => BigInt(v)),
});
