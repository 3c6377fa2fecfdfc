/**
 * Large number vectors of an experiment live in the safetensors sidecar; the JSON keeps a
 * reference in their place:
 *
 *   "vector": {"$tensor": "variants.1.interventions.0.vector", "shape": [576]}
 *
 * A key spells the JSON path of the value it replaces (variants[1].interventions[0].vector),
 * so a Python user holding the sidecar and the JSON can tell what each tensor is. A flat
 * list becomes a 1-D tensor and a list of equal rows a 2-D one (patch values, rank-k
 * weight_delta factors), so the shape says which it was and reading restores it exactly.
 * Values are stored as float32, the precision the engine computes and feeds them in.
 */
import { EngineError } from '../errors';
import type { TensorReader } from '../model/safetensors';
import { formatPath } from '../../../src-shared/issues';
import type { F32Tensor } from '../model/safetensors-write';
import type { Experiment } from './schema';

/** Lists with more values than this go to the sidecar; shorter ones stay readable in the JSON. */
export const INLINE_MAX_VALUES = 64;

/** Refs sit a few levels deep in a valid document; deeper nesting is hostile input. */
const MAX_DEPTH = 64;

export interface TensorRef {
  $tensor: string;
  shape: number[];
}

/** The document with every large vector of every intervention and library vector replaced by a TensorRef. */
export function extractTensors(experiment: Experiment): { document: Record<string, unknown>; tensors: Map<string, F32Tensor> } {
  const tensors = new Map<string, F32Tensor>();
  const variants = experiment.variants.map((variant, v) => ({
    ...variant,
    interventions: variant.interventions.map((step, i) => extract(step, `variants.${v}.interventions.${i}`, tensors)),
  }));
  const vectors = experiment.vectors.map((entry, i) => extract(entry, `vectors.${i}`, tensors));
  return { document: { ...experiment, variants, vectors }, tensors };
}

function extract(value: unknown, key: string, tensors: Map<string, F32Tensor>): unknown {
  if (Array.isArray(value)) {
    const shape = numericShape(value);
    if (shape && shape.reduce((product, dim) => product * dim, 1) > INLINE_MAX_VALUES) {
      tensors.set(key, { shape, data: Float32Array.from(value.flat() as number[]) });
      const ref: TensorRef = { $tensor: key, shape };
      return ref;
    }
    return value.map((item, i) => extract(item, `${key}.${i}`, tensors));
  }
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, extract(item, `${key}.${name}`, tensors)]));
  return value;
}

/** [n] for a list of numbers, [rows, n] for a list of equally long lists of numbers, else null. */
function numericShape(list: unknown[]): number[] | null {
  if (list.every((item) => typeof item === 'number')) return [list.length];
  const first = list[0];
  if (!Array.isArray(first) || first.length === 0) return null;
  const rows = list.every((row) => Array.isArray(row) && row.length === first.length && row.every((item) => typeof item === 'number'));
  return rows ? [list.length, first.length] : null;
}

/** Values all of a document's tensors may hold together: 2^25 numbers are 256 MB as JS arrays. */
export const MAX_TENSOR_VALUES = 1 << 25;

/** The sidecar as resolveTensors needs it: its name for messages, and its reader, opened on first use. */
export interface SidecarAccess {
  readonly name: string;
  reader(): TensorReader;
}

/**
 * The document with every TensorRef replaced by the tensor's values. Throws
 * EngineError('bad_experiment') naming the JSON path and the tensor key when a ref is
 * malformed, refers to a tensor the sidecar lacks or has a different shape, or when the
 * file has refs but no sidecar.
 */
export function resolveTensors(document: unknown, sidecar: SidecarAccess | null, file: string): unknown {
  const used = new Set<string>();
  let values = 0;
  const fail = (path: PropertyKey[], problem: string) => new EngineError('bad_experiment', `${file}: ${formatPath(path, '(document)')}: ${problem}`);

  const resolve = (value: unknown, path: PropertyKey[]): unknown => {
    if (path.length > MAX_DEPTH) throw fail(path, `nested more than ${MAX_DEPTH} levels deep`);
    // Plain values need no path: a 10^7-number vector must not make 10^7 path arrays.
    if (Array.isArray(value)) return value.map((item, i) => (typeof item === 'object' && item !== null ? resolve(item, [...path, i]) : item));
    if (!isRecord(value)) return value;
    if (!Object.hasOwn(value, '$tensor')) {
      return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, resolve(item, [...path, name])]));
    }
    const ref = asRef(value);
    if (!ref) throw fail(path, 'a tensor reference must be {"$tensor": key, "shape": [n] or [rows, n]}');
    const key = ref.$tensor;
    // Each key is referenced once by what the writer produces; repeats could multiply a
    // small sidecar into a huge document.
    if (used.has(key)) throw fail(path, `tensor "${key}" is referenced more than once`);
    used.add(key);
    if (!sidecar) throw fail(path, `refers to tensor "${key}" but the file names no tensors sidecar`);
    const reader = openReader(sidecar, key, path, file);
    if (!reader.has(key)) throw fail(path, `tensor "${key}" is missing from ${sidecar.name}`);
    const { shape } = reader.info(key);
    if (shape.join(',') !== ref.shape.join(',')) {
      throw fail(path, `tensor "${key}" in ${sidecar.name} has shape [${shape.join(', ')}], the experiment expects [${ref.shape.join(', ')}]`);
    }
    // Checked before reading: each value becomes a JS number, and past ~10^8 of them an array cannot be made at all.
    const count = shape.reduce((product, dim) => product * dim, 1);
    values += count;
    if (values > MAX_TENSOR_VALUES) throw fail(path, `tensor "${key}" brings the experiment's tensors to ${values} values; at most ${MAX_TENSOR_VALUES} are read`);
    return toLists(reader.read(key), ref.shape);
  };
  return resolve(document, []);
}

function openReader(sidecar: SidecarAccess, key: string, path: PropertyKey[], file: string): TensorReader {
  try {
    return sidecar.reader();
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    throw new EngineError('bad_experiment', `${file}: ${error.message} (needed for tensor "${key}" at ${formatPath(path, '(document)')})`);
  }
}

function asRef(value: Record<string, unknown>): TensorRef | null {
  const { $tensor: key, shape, ...rest } = value;
  if (typeof key !== 'string' || Object.keys(rest).length > 0 || !Array.isArray(shape)) return null;
  if (shape.length < 1 || shape.length > 2 || !shape.every((dim) => Number.isSafeInteger(dim) && dim > 0)) return null;
  return { $tensor: key, shape: shape as number[] };
}

function toLists(data: Float32Array, shape: number[]): number[] | number[][] {
  if (shape.length === 1) return Array.from(data);
  const [rows, width] = shape;
  return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * width, (r + 1) * width)));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
