/**
 * Defaults the UI starts from. They mirror the engine's schemas (generate/settings.ts,
 * generate/decoding-options.ts, experiment/schema.ts); the renderer may not import those
 * at run time, and the engine validates whatever the UI sends, so a drift here shows up
 * as a validation error rather than a silent difference.
 */
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

export type Strategy = Decoding['strategy'];

export function defaultDecoding(strategy: Strategy): Decoding {
  switch (strategy) {
    case 'greedy':
      return { strategy: 'greedy' };
    case 'lfd':
      return { strategy: 'lfd', fusion: 'logprob', lambda: 0.5, plausibilityAlpha: null, applyFinalNorm: true };
    case 'dola':
      return { strategy: 'dola', layers: 'high', alpha: 0.1, prematureFinalNorm: false, repetitionPenalty: 1.2 };
  }
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
  return { path: model.path, format: model.format, architecture: model.architecture, family: model.family, fingerprint: model.fingerprint };
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
    variants: [newVariant('Baseline')],
    results: null,
    analyses: [],
  };
}
