import { z } from 'zod';

/**
 * Shared by the engine and the renderer (src-shared: imports nothing but zod).
 *
 * How each generation step turns the model's outputs into next-token scores
 * (METHODS.md sections 1 and 2). Chosen per variant, so greedy, LFD and DoLa can run
 * side by side on the same prompt. Layers are hidden-state indices as in METHODS.md and
 * Hugging Face's hidden_states: 0 is hook_embed, l >= 1 is blocks.{l-1}.hook_resid_post,
 * and N (the number of blocks) is the final layer whose logits the model outputs.
 */
const layerList = z.array(z.int().min(0)).min(1, 'must not be empty');

export const standardDecodingSchema = z.strictObject({
  strategy: z.literal('greedy').describe("The final layer's logits, through the generation settings (greedy at temperature 0, sampled above)"),
});

export const lfdDecodingSchema = z.strictObject({
  strategy: z.literal('lfd'),
  candidateLayers: layerList
    .optional()
    .describe('Layers LFD may fuse; default the latter half, ceil(N/2)..N-1 (layer N is the fusion partner)'),
  fusion: z
    .enum(['logprob', 'logit', 'hidden'])
    .default('logprob')
    .describe('logprob: (1-lambda) log p_N + lambda log p_l; logit: z_N + lambda z_l; hidden: logits of h_N + lambda h_l. The paper\'s exact form is UNVERIFIED (METHODS.md 1)'),
  lambda: z.number().min(0).max(1).default(0.5).describe('Fusion weight of the chosen layer; 0 is plain greedy decoding. UNVERIFIED default'),
  plausibilityAlpha: z
    .number()
    .gt(0)
    .max(1)
    .nullable()
    .default(null)
    .describe('Optional DoLa-style filter: keep tokens with p_N >= alpha * max p_N (not known to be in LFD); null turns it off'),
  applyFinalNorm: z.boolean().default(true).describe('Apply the final norm before the LM head for intermediate layers (logit-lens convention; the paper\'s choice is unknown)'),
});

export const dolaDecodingSchema = z.strictObject({
  strategy: z.literal('dola'),
  layers: z
    .union([z.enum(['low', 'high']), layerList])
    .default('high')
    .describe("Premature layers: Hugging Face's low or high bucket, or explicit layers (one layer = DoLa-static)"),
  alpha: z.number().gt(0).max(1).default(0.1).describe('Adaptive plausibility constraint: keep tokens with q_N >= alpha * max q_N'),
  prematureFinalNorm: z.boolean().default(false).describe('Apply the final norm to premature layers (false matches the reference code and Hugging Face)'),
  repetitionPenalty: z.number().gt(0).default(1.2).describe('CTRL-style penalty applied to the DoLa scores; 1.2 as the DoLa README uses'),
});

const STRATEGIES = ['greedy', 'lfd', 'dola'] as const;

export const decodingSchema = z.discriminatedUnion('strategy', [standardDecodingSchema, lfdDecodingSchema, dolaDecodingSchema], {
  // A bare name ("dola") is the likely slip: say which object it should have been.
  error: (issue) =>
    typeof issue.input === 'string'
      ? `expected an object such as {"strategy": "${(STRATEGIES as readonly string[]).includes(issue.input) ? issue.input : 'greedy'}"}, not a string`
      : `expected strategy to be one of ${STRATEGIES.join(', ')}`,
});

export type Decoding = z.infer<typeof decodingSchema>;
export type DecodingInput = z.input<typeof decodingSchema>;
export type LfdDecoding = z.infer<typeof lfdDecodingSchema>;
export type DolaDecoding = z.infer<typeof dolaDecodingSchema>;

/** What a lens-based strategy reports for one step: the layer it used and its score per candidate. */
export interface DecodingStep {
  strategy: 'lfd' | 'dola';
  layer: number;
  /** IKS (LFD) or JSD to the final layer (DoLa), keyed by candidate layer. */
  scores: Record<number, number>;
}
