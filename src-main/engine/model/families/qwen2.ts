/**
 * Qwen2 family: Qwen2ForCausalLM (Qwen2, Qwen2.5). Llama's block with biases on q, k and v
 * (not on o or the MLP), grouped-query attention and, at small sizes, tied embeddings.
 * Mirrors transformers' `Qwen2Config` defaults and `modeling_qwen2.py`, whose weight names
 * are Llama's.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { llamaStyleConfigSchema, llamaStyleSpec, type ModelFamily, parseConfig, unsupported } from './family';
import { llamaWeights } from './llama';

/** The config.json fields Qwen2 reads (Qwen3 adds to them); other fields are ignored. */
export const qwen2ConfigSchema = llamaStyleConfigSchema().extend({
  // Sliding-window layers exist only when use_sliding_window is set (no released Qwen2.5 sets it).
  use_sliding_window: z.boolean().default(false),
});

/** Qwen2 and Qwen3 refuse sliding-window layers until the graph builds them. */
export function refuseSlidingWindow(config: z.output<typeof qwen2ConfigSchema>, file: string): void {
  if (config.use_sliding_window) throw unsupported(file, config.architectures[0], 'use_sliding_window: true');
}

function qwen2SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(qwen2ConfigSchema, raw, file);
  refuseSlidingWindow(config, file);
  return llamaStyleSpec(config, file, 'qwen2', { qkvBias: true }); // Qwen2Attention: q/k/v with bias, o without
}

export const qwen2Family: ModelFamily = {
  family: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  specFromConfig: qwen2SpecFromConfig,
  weights: llamaWeights,
};
