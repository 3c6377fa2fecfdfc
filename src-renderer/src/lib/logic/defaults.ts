/**
 * Defaults the UI starts from. Decoding defaults come from the shared schema
 * (src-shared/decoding-schema.ts); the rest mirror engine schemas the renderer may not
 * import at run time (generate/settings.ts, experiment/schema.ts), and the engine
 * validates whatever the UI sends, so a drift there shows up as a validation error
 * rather than a silent difference.
 */
import { decodingSchema } from '../../../../src-shared/decoding-schema';
import { consistencySettingsSchema, type ConsistencySettings } from '../../../../src-shared/consistency';
import type { Decoding, Experiment, GenerationSettings, ModelInfo, ModelRef, Variant } from '../api/types';

export const EXPERIMENT_FORMAT = 'tiller-experiment';
export const EXPERIMENT_VERSION = 1;

export const DEFAULT_SETTINGS: Readonly<GenerationSettings> = Object.freeze({
  maxNewTokens: 128,
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 0,
  stopAtEos: true,
  stopStrings: [],
});

/** The shared schema's defaults (src-shared/consistency.ts): the lens pass on, every block, no answers. */
export const DEFAULT_CONSISTENCY: Readonly<ConsistencySettings> = Object.freeze(consistencySettingsSchema.parse({}));

export type Strategy = Decoding['strategy'];

/** A strategy with the engine's defaults for its parameters (the shared schema fills them in). */
export function defaultDecoding(strategy: Strategy): Decoding {
  return decodingSchema.parse({ strategy });
}

let counter = 0;

/** A fresh variant id; unique within a session and across saved files in practice. */
export function newVariantId(): string {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `v-${Date.now().toString(36)}-${counter.toString(36)}${random}`;
}

export function newVariant(name: string): Variant {
  return { id: newVariantId(), name, interventions: [], origins: {}, decoding: defaultDecoding('greedy') };
}

export function modelRefOf(model: ModelInfo): ModelRef {
  return { path: model.path, format: model.format, architecture: model.architecture, family: model.family, fingerprint: model.fingerprint, weights: model.weights };
}

export function newExperiment(model: ModelRef | null, now: Date = new Date()): Experiment {
  const stamp = now.toISOString();
  return {
    format: EXPERIMENT_FORMAT,
    version: EXPERIMENT_VERSION,
    name: 'Untitled experiment',
    createdAt: stamp,
    updatedAt: stamp,
    model,
    prompt: { text: 'Once upon a time', chat: false },
    settings: { ...DEFAULT_SETTINGS, stopStrings: [] },
    consistency: { ...DEFAULT_CONSISTENCY, answers: [] },
    variants: [newVariant('Baseline')],
    vectors: [],
    results: null,
    analyses: [],
  };
}
