/**
 * Attention patterns of a prompt: every layer's attn.hook_pattern ([head, query, key],
 * after softmax) captured in one forward pass, for the Inside tab's pattern viewer.
 */
import type { ModelHandle } from '../engine';
import { graphOutput } from '../graph-io';
import { hookName } from '../hooks/names';
import { validatePlan } from '../hooks/plan';
import { shapeCapture } from '../plan/captures';
import { requestError, throwIfCancelled, type AnalysisControl } from './control';
import { attentionRequestSchema, type AttentionResult } from '../../../src-shared/analysis-schema';

export async function attentionPatterns(model: ModelHandle, input: unknown, control: AnalysisControl = {}): Promise<AttentionResult> {
  const parsed = attentionRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('attention', parsed.error.issues);
  const { ids } = parsed.data;
  const { spec } = model;
  throwIfCancelled(control.signal, 'attention patterns');
  const layers = Array.from({ length: spec.nLayers }, (_, layer) => layer);
  const plan = validatePlan(spec, { captures: layers.map((layer) => ({ hook: hookName.pattern(layer), positions: 'all' })) });
  const { outputs, run } = await model.runRows(plan, [{ plan, patches: new Map() }], [ids]);
  const n = ids.length;
  const patterns = layers.map((layer) => {
    const hook = hookName.pattern(layer);
    const data = shapeCapture(spec, hook, outputs[graphOutput.capture(hook)], 0, 'all', run).data; // [head, query, key]
    return Array.from({ length: spec.nHeads }, (_, head) => Array.from({ length: n }, (_, q) => Array.from(data.subarray((head * n + q) * n, (head * n + q + 1) * n))));
  });
  control.onProgress?.({ done: 1, total: 1, unit: 'forward passes' });
  return { layers, heads: spec.nHeads, positions: ids.map((_, p) => p), patterns, forwardPasses: 1 };
}
