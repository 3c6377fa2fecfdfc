/**
 * Weights of a Hugging Face model folder under canonical parameter names. The family's
 * name table maps each canonical name to its checkpoint tensor; every parameter the
 * spec needs is checked (present, exact shape) when the folder is opened, so a bad
 * checkpoint fails at load time instead of halfway through building a graph.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors';
import { familyOf } from './config';
import { resolveWeight, type TensorRef } from './families/family';
import { checkRowRange, fileInFolder, formatShape, transpose } from './file-io';
import { openSafetensors, openShardedSafetensors, type TensorReader } from './safetensors';
import { expectedParams, type ModelSpec, type TensorInfo, type WeightSource } from './spec';

/** Open `model.safetensors.index.json` (sharded) or `model.safetensors` in `folder`. */
function openFolderTensors(folder: string): { reader: TensorReader; file: string } {
  const indexFile = fileInFolder(folder, 'model.safetensors.index.json', 'safetensors index', 'bad_model_file');
  if (existsSync(indexFile)) return { reader: openShardedSafetensors(indexFile), file: indexFile };
  const file = fileInFolder(folder, 'model.safetensors', 'safetensors file', 'bad_model_file');
  if (existsSync(file)) return { reader: openSafetensors(file), file };
  throw new EngineError(
    'bad_model_file',
    `${folder} has neither model.safetensors nor model.safetensors.index.json (PyTorch .bin checkpoints are not read; convert them to safetensors)`,
  );
}

export function openHfWeights(folder: string, spec: ModelSpec): WeightSource {
  const { reader, file } = openFolderTensors(folder);
  try {
    const family = familyOf(spec);
    const refs = new Map<string, TensorRef>();
    for (const [canonical, shape] of expectedParams(spec)) {
      const ref = resolveWeight(family, canonical, spec, (tensor) => reader.has(tensor));
      if (ref === null || !reader.has(ref.tensor)) {
        throw new EngineError('bad_model_file', `${file}: tensor ${ref?.tensor ?? canonical} (${canonical}) is missing`);
      }
      const stored = reader.info(ref.tensor).shape;
      const actual = canonicalShape(stored, ref);
      if (actual === null || actual.length !== shape.length || actual.some((dim, i) => dim !== shape[i])) {
        const what = ref.rows ? `rows ${ref.rows[0]}..${ref.rows[0] + ref.rows[1]} of ` : '';
        throw new EngineError(
          'bad_model_file',
          `${file}: tensor ${ref.tensor} has shape ${formatShape(stored)}, expected ${what}${formatShape(shape)} for this config`,
        );
      }
      refs.set(canonical, ref);
    }
    return new CanonicalWeights(reader, refs);
  } catch (error) {
    reader.close();
    throw error;
  }
}

/** The shape a weight rule makes of a stored tensor, or null when its row slice does not fit. */
function canonicalShape(stored: number[], ref: TensorRef): number[] | null {
  const shape = isConv1dMatrix(ref, stored) ? [stored[1], stored[0]] : [...stored];
  if (ref.rows) {
    const [start, count] = ref.rows;
    if (shape.length === 0 || start + count > shape[0]) return null;
    shape[0] = count;
  }
  return shape;
}

/** Exposes exactly the spec's parameters, each as its weight rule makes it; other checkpoint tensors (e.g. a tied lm_head) stay hidden. */
class CanonicalWeights implements WeightSource {
  readonly files: string[];

  constructor(
    private readonly reader: TensorReader,
    private readonly refs: Map<string, TensorRef>,
  ) {
    this.files = reader.files;
  }

  has(name: string): boolean {
    return this.refs.has(name);
  }

  info(name: string): TensorInfo {
    const ref = this.ref(name);
    const stored = this.reader.info(ref.tensor);
    return { dtype: stored.dtype, shape: canonicalShape(stored.shape, ref) ?? stored.shape };
  }

  read(name: string): Float32Array {
    const ref = this.ref(name);
    const stored = this.reader.info(ref.tensor).shape;
    if (!isConv1dMatrix(ref, stored)) return this.readRows(name, 0, stored.length === 0 ? 1 : (this.info(name).shape[0] ?? 1));
    // Conv1D [in, out] -> [out, in]: canonical rows are stored columns, so the whole tensor is
    // read and transposed (GPT-2's matrices are small), then sliced.
    const [inFeatures, outFeatures] = stored;
    const values = transpose(this.reader.read(ref.tensor), inFeatures, outFeatures);
    const [start, count] = ref.rows ?? [0, outFeatures];
    const rowLength = inFeatures;
    return withOffset(values.slice(start * rowLength, (start + count) * rowLength), ref);
  }

  readRows(name: string, first: number, count: number): Float32Array {
    const ref = this.ref(name);
    const shape = this.info(name).shape;
    const rowLength = checkRowRange(shape, first, count, 4, name);
    if (isConv1dMatrix(ref, this.reader.info(ref.tensor).shape)) return this.read(name).slice(first * rowLength, (first + count) * rowLength);
    return withOffset(this.reader.readRows(ref.tensor, (ref.rows?.[0] ?? 0) + first, count), ref);
  }

  close(): void {
    this.reader.close();
  }

  private ref(name: string): TensorRef {
    const ref = this.refs.get(name);
    if (ref === undefined) throw new EngineError('bad_argument', `the model has no parameter "${name}"`);
    return ref;
  }
}

/** A (1 + w) gain read as w gets its 1 here (Gemma's RMSNorm), so the graph applies an ordinary gain. */
function withOffset(values: Float32Array, ref: TensorRef): Float32Array {
  if (ref.addOne) for (let i = 0; i < values.length; i++) values[i] += 1;
  return values;
}

/** Conv1D transposes matrices only; a bias beside one is read as stored. */
const isConv1dMatrix = (ref: TensorRef, stored: readonly number[]): boolean => ref.conv1d && stored.length === 2;
