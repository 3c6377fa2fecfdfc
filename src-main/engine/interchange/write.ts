/**
 * Write steering vectors (keyed by hook) in the format the file name asks for:
 *
 *   .gguf          llama.cpp control vector: block outputs only (control-vector.ts)
 *   .safetensors   one F32 tensor per hook name, provenance in __metadata__
 *   .json          Neuronpedia, in one endpoint's field names (one vector per file)
 */
import { extname } from 'node:path';
import { EngineError } from '../errors';
import { safetensorsBytes } from '../model/safetensors-write';
import { checkReplaceable, writeAtomically } from '../write-atomically';
import { readVectorSet } from './read';
import { writeControlVector } from './control-vector';
import { writeNeuronpedia, type NeuronpediaEndpoint } from './neuronpedia';

export interface VectorWriteOptions {
  /** The model the vectors are for (GGUF model_hint, Neuronpedia modelId, metadata "model"). */
  model: string;
  label: string;
  /** Neuronpedia's default strength. */
  strength?: number;
  neuronpediaEndpoint?: NeuronpediaEndpoint;
  /** How the vectors were made (method, prompts file, layers, norms...): safetensors metadata, GGUF tiller.* keys. */
  provenance?: Record<string, string>;
}

export type WritableFormat = 'gguf' | 'safetensors' | 'json';

export function formatOfPath(path: string): WritableFormat {
  const extension = extname(path).toLowerCase();
  if (extension === '.gguf') return 'gguf';
  if (extension === '.safetensors') return 'safetensors';
  if (extension === '.json') return 'json';
  throw new EngineError('bad_argument', `${path}: write vectors to a .gguf, .safetensors or .json file (the extension picks the format)`);
}

export function vectorFileBytes(format: WritableFormat, vectors: ReadonlyMap<string, Float32Array>, options: VectorWriteOptions): Buffer {
  if (vectors.size === 0) throw new EngineError('bad_argument', 'no vectors to write');
  const provenance = options.provenance ?? {};
  switch (format) {
    case 'gguf':
      return writeControlVector(vectors, options.model, { label: options.label, ...provenance });
    case 'safetensors': {
      const tensors = new Map([...vectors].map(([hook, data]) => [hook, { shape: [data.length], data }]));
      return safetensorsBytes(tensors, { format: 'tiller-vectors', model: options.model, label: options.label, ...provenance });
    }
    case 'json': {
      if (vectors.size > 1) throw new EngineError('bad_argument', `Neuronpedia JSON holds one vector; these are ${vectors.size} (${[...vectors.keys()].join(', ')}): write safetensors or GGUF, or choose one layer`);
      const [[hook, vector]] = [...vectors];
      const body = writeNeuronpedia(options.neuronpediaEndpoint ?? 'vector-new', hook, vector, { modelId: options.model, label: options.label, strength: options.strength ?? 1 });
      return Buffer.from(`${JSON.stringify(body)}\n`, 'utf8');
    }
  }
}

export function writeVectorFile(path: string, vectors: ReadonlyMap<string, Float32Array>, options: VectorWriteOptions): void {
  const bytes = vectorFileBytes(formatOfPath(path), vectors, options);
  // Replace only a vector file (one readVectorSet reads), never some other .json or .safetensors.
  checkReplaceable(path, (existing) => readVectorSet(existing).vectors.length > 0, 'a vector file');
  writeAtomically(path, bytes);
}
