/**
 * What the UI shows about a loaded model: its shape, size and where it runs.
 */
import type { ModelHandle } from '../engine';
import { expectedParams, type ModelSpec } from '../model/spec';
import { weightFileBytes } from '../model/weight-format';
import type { ModelInfo } from './protocol';

/** Parameters of the checkpoint (tied embeddings counted once), from the spec's parameter shapes. */
export function parameterCount(spec: ModelSpec): number {
  let count = 0;
  for (const shape of expectedParams(spec).values()) count += shape.reduce((a, b) => a * b, 1);
  return count;
}

export function modelInfo(handle: ModelHandle): ModelInfo {
  const { spec } = handle;
  return {
    path: handle.path,
    format: handle.format,
    architecture: spec.architecture,
    family: spec.family,
    nParams: parameterCount(spec),
    nLayers: spec.nLayers,
    dModel: spec.dModel,
    nHeads: spec.nHeads,
    nKvHeads: spec.nKvHeads,
    dHead: spec.dHead,
    dMlp: spec.dMlp,
    dVocab: spec.dVocab,
    nCtx: spec.nCtx,
    provider: handle.provider,
    fallbackReason: handle.fallbackReason,
    weightBytes: weightFileBytes(spec, handle.weights),
    weights: handle.weights,
    cacheBytes: handle.cacheBytes,
    fingerprint: handle.fingerprint,
    hasChatTemplate: handle.tokenizer.chatTemplate !== null,
    compiled: compiledUsage(handle),
  };
}

export function compiledUsage(handle: ModelHandle): ModelInfo['compiled'] {
  const usage = handle.sessionUsage();
  return { graphs: usage.sessions, estimatedBytes: usage.estimatedBytes };
}
