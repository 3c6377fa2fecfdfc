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
import { formatShape, transpose } from './file-io';
import { openSafetensors, openShardedSafetensors, type TensorReader } from './safetensors';
import { expectedParams, type ModelSpec, type TensorInfo, type WeightSource } from './spec';

/** Open `model.safetensors.index.json` (sharded) or `model.safetensors` in `folder`. */
function openFolderTensors(folder: string): { reader: TensorReader; file: string } {
  const indexFile = join(folder, 'model.safetensors.index.json');
  if (existsSync(indexFile)) return { reader: openShardedSafetensors(indexFile), file: indexFile };
  const file = join(folder, 'model.safetensors');
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
  const shape = ref.conv1d && stored.length === 2 ? [stored[1], stored[0]] : [...stored];
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
    let values = this.reader.read(ref.tensor);
    // Conv1D [in, out] -> [out, in]
    if (ref.conv1d && stored.length === 2) values = transpose(values, stored[0], stored[1]);
    if (ref.rows) {
      const rowLength = stored.length === 2 ? (ref.conv1d ? stored[0] : stored[1]) : 1;
      const [start, count] = ref.rows;
      values = values.slice(start * rowLength, (start + count) * rowLength);
    }
    if (ref.addOne) for (let i = 0; i < values.length; i++) values[i] += 1;
    return values;
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
