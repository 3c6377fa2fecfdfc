/**
 * The names of the compiled graph's inputs and outputs, in one place: the graph declares
 * them (graph/forward.ts, graph/taps.ts), the runtime and the plan feed and fetch them
 * (runtime/kv-cache.ts, runtime/ort-worker.ts, plan/batch.ts, plan/feeds.ts). Data only,
 * so every engine layer may import it, like errors.ts.
 *
 * Inputs                                                     Outputs
 *   input_ids          int64   [batch, seq]                    logits           [batch, n_logits, d_vocab]
 *   position_ids       int64   [batch, seq]                    new_key.{slot}   [batch, seq, n_kv_heads * d_head]
 *   attention_mask     float32 [seq, key_pos]                  new_value.{slot} [batch, seq, n_kv_heads * d_head]
 *   attention_mask.window.{W}  float32 [seq, key_pos]  the causal mask limited to the last W keys (sliding-window blocks)
 *   logits_positions   int64   [n_logits]                      capture.{hook}   a plan's capture (graph/taps.ts)
 *   past_key.{slot}    float32 [past, batch, n_kv_heads, d_head]   lens.{layer}  a plan's lens op (logit lens)
 *   past_value.{slot}  float32 [past, batch, n_kv_heads, d_head]
 *   intervention.{i}.{name}  the values of plan intervention i (graph/taps.ts lists the names)
 *
 * A slot is a position in the block schedule (a repeated block has one slot per run).
 */
export const graphInput = {
  inputIds: 'input_ids',
  positionIds: 'position_ids',
  attentionMask: 'attention_mask',
  /** The causal mask of the blocks that attend to the last `window` positions only (runtime/kv-cache.ts causalMask). */
  windowMask: (window: number): string => `attention_mask.window.${window}`,
  logitsPositions: 'logits_positions',
  pastKey: (slot: number): string => `past_key.${slot}`,
  pastValue: (slot: number): string => `past_value.${slot}`,
  /** A value of the plan's intervention `index` (its position in plan.interventions), e.g. intervention.3.delta. */
  intervention: (index: number, name: string): string => `intervention.${index}.${name}`,
} as const;

export const graphOutput = {
  logits: 'logits',
  newKey: (slot: number): string => `new_key.${slot}`,
  newValue: (slot: number): string => `new_value.${slot}`,
  capture: (hook: string): string => `capture.${hook}`,
  /** The plan lens op's logit lens of blocks.{layer}.hook_resid_post. */
  planLens: (layer: number): string => `lens.${layer}`,
} as const;
