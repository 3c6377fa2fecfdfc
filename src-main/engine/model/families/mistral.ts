/**
 * Mistral family: MistralForCausalLM (Mistral 7B v0.1 and later). Llama's block and weight
 * names, with sliding-window attention in every block: each query sees the last
 * `sliding_window` positions, itself included (runtime/kv-cache.ts causalMask). Mirrors
 * transformers' `MistralConfig` defaults (sliding_window 4096; null turns the window off,
 * as in Mistral 7B v0.2 and later) and `modeling_mistral.py`.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { llamaStyleConfigSchema, llamaStyleSpec, type ModelFamily, parseConfig, positiveInt } from './family';
import { llamaWeights } from './llama';

const mistralConfigSchema = llamaStyleConfigSchema().extend({
  sliding_window: positiveInt.nullable().default(4096),
});

function mistralSpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(mistralConfigSchema, raw, file);
  const window = config.sliding_window;
  return llamaStyleSpec(config, file, 'mistral', { slidingWindow: Array.from({ length: config.num_hidden_layers }, () => window) });
}

export const mistralFamily: ModelFamily = {
  family: 'mistral',
  architectures: ['MistralForCausalLM'],
  specFromConfig: mistralSpecFromConfig,
  weights: llamaWeights,
};
