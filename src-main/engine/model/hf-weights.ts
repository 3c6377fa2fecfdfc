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
import { formatShape } from './file-io';
import { fileInFolder } from './file-io';
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
    const checkpointNames = new Map<string, string>();
    for (const [canonical, shape] of expectedParams(spec)) {
      const name = family.checkpointName(canonical);
      if (name === null || !reader.has(name)) {
        throw new EngineError('bad_model_file', `${file}: tensor ${name ?? canonical} (${canonical}) is missing`);
      }
      const actual = reader.info(name).shape;
      if (actual.length !== shape.length || actual.some((dim, i) => dim !== shape[i])) {
        throw new EngineError(
          'bad_model_file',
          `${file}: tensor ${name} has shape ${formatShape(actual)}, expected ${formatShape(shape)} for this config`,
        );
      }
      checkpointNames.set(canonical, name);
    }
    return new CanonicalWeights(reader, checkpointNames);
  } catch (error) {
    reader.close();
    throw error;
  }
}

/** Exposes exactly the spec's parameters; other checkpoint tensors (e.g. a tied lm_head) stay hidden. */
class CanonicalWeights implements WeightSource {
  readonly files: string[];

  constructor(
    private readonly reader: TensorReader,
    private readonly checkpointNames: Map<string, string>,
  ) {
    this.files = reader.files;
  }

  has(name: string): boolean {
    return this.checkpointNames.has(name);
  }

  info(name: string): TensorInfo {
    return this.reader.info(this.checkpointName(name));
  }

  read(name: string): Float32Array {
    return this.reader.read(this.checkpointName(name));
  }

  readRows(name: string, first: number, count: number): Float32Array {
    return this.reader.readRows(this.checkpointName(name), first, count);
  }

  close(): void {
    this.reader.close();
  }

  private checkpointName(name: string): string {
    const checkpoint = this.checkpointNames.get(name);
    if (checkpoint === undefined) throw new EngineError('bad_argument', `the model has no parameter "${name}"`);
    return checkpoint;
  }
}
