/**
 * The clamp experiment of the neuron atlas (METHODS.md 5, "p(concept token) vs clamp value
 * curve"): one MLP neuron's activation (mlp.hook_post, the input of down_proj) set to a
 * constant at every position, for a list of constants, and the probability of a concept
 * token at the next-token positions. Request, result and the app's input, shared by the
 * engine, experiment files and the renderer (src-shared imports nothing but zod).
 */
import { z } from 'zod';

const MAX_TOKENS = 1 << 16;
/** Points on one curve: each is one batch row. */
export const MAX_CLAMP_VALUES = 256;
/** METHODS.md 5 suggests 5x-20x the neuron's largest observed activation; 0 switches it off, 1 sets it to that maximum everywhere. */
export const DEFAULT_CLAMP_MULTIPLES = [0, 1, 2, 5, 10, 20];

const tokenId = z.int().min(0, 'must be a token id (a non-negative integer)');
const tokenIds = z.array(tokenId).min(1, 'must not be empty').max(MAX_TOKENS, `has more than ${MAX_TOKENS} tokens`);
const finite = z.number({ error: 'must be a finite number' });
const clampValues = z.array(finite).min(1, 'must hold at least one value').max(MAX_CLAMP_VALUES, `has more than ${MAX_CLAMP_VALUES} values`);

/** How `values` read: multiples of the neuron's largest observed activation, or activations as given. */
export const CLAMP_SCALES = ['max_activation', 'absolute'] as const;
export type ClampScale = (typeof CLAMP_SCALES)[number];

export const clampCurveRequestSchema = z.strictObject({
  ids: tokenIds,
  layer: z.int().min(0),
  neuron: z.int().min(0),
  /** The concept token whose probability the curve shows. */
  token: tokenId,
  values: clampValues.default(() => [...DEFAULT_CLAMP_MULTIPLES]),
  scale: z.enum(CLAMP_SCALES).default('max_activation'),
  /** Where the largest activation is observed: a reference text, or null for the prompt itself. */
  reference: tokenIds.nullable().default(null),
  /** Also average p(token) over every next-token position of the prompt, not only the last. */
  average: z.boolean().default(false),
  /** Clamp values per forward pass. */
  batchSize: z.int().min(1).max(1024).default(64),
});
export type ClampCurveRequest = z.output<typeof clampCurveRequestSchema>;
export type ClampCurveRequestInput = z.input<typeof clampCurveRequestSchema>;

/** p(token) and its rank (0 = most likely) at the last position; the mean p over every position when asked. */
const readingSchema = z.strictObject({ prob: z.number(), rank: z.int().min(0), meanProb: z.number().nullable() });
export type ClampReading = z.output<typeof readingSchema>;

export const clampCurveResultSchema = z.strictObject({
  hook: z.string(),
  /** The neuron's activation with the largest magnitude (signed) on the reference text or prompt, and its position there. */
  maxActivation: z.number(),
  maxPosition: z.int().min(0),
  /** The unclamped run. */
  baseline: readingSchema,
  /** One per requested value, in order: the activation it clamps to, and the reading. */
  points: z.array(readingSchema.extend({ value: z.number() })).max(MAX_CLAMP_VALUES),
  forwardPasses: z.int().min(0),
  warnings: z.array(z.string()).max(100),
});
export type ClampCurveResult = z.output<typeof clampCurveResultSchema>;

/** What the user types in the app: the prompt and reference as text, the concept as a token text (a vocabulary entry, or #id). */
export const clampCurveInputSchema = z.strictObject({
  text: z.string().min(1, 'must not be empty').max(100_000),
  layer: z.int().min(0),
  neuron: z.int().min(0),
  token: z.string().min(1, 'must name a token').max(1000),
  values: clampValues.default(() => [...DEFAULT_CLAMP_MULTIPLES]),
  scale: z.enum(CLAMP_SCALES).default('max_activation'),
  reference: z.string().min(1).max(100_000).nullable().default(null),
  average: z.boolean().default(false),
});
export type ClampCurveInput = z.input<typeof clampCurveInputSchema>;
