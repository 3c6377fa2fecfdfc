/**
 * Internal consistency (METHODS.md 4, Xie et al. 2024): how far the layers' own readings
 * agree with what the model finally said. For each generated token the engine keeps the
 * logit lens's top-1 token at every block (lensTop1, over the whole vocabulary); a block
 * agrees when that is the generated token. A token's score is the share of agreeing blocks
 * in the layer set L' (by default every block but the last, whose lens is the model's output
 * itself: METHODS.md's 1..N-1, uniform weights; optionally from the middle block on, the
 * pitfall METHODS.md names: early blocks are near chance and dominate an unweighted mean);
 * a response's is the mean over its tokens. Restricted to a small answer set Y (the paper's
 * form), the readings are the argmax over Y's tokens at the answer's position instead
 * (engine/analysis/consistency.ts). Shared by the engine, the CLI and the Compare view.
 */
import { z } from 'zod';

/** Where L' starts: a block index, or 'middle' (block floor(N/2), at most the last scored block). */
export const consistencyFromSchema = z.union([z.int().min(0).max(4095), z.literal('middle')]);
export type ConsistencyFrom = z.output<typeof consistencyFromSchema>;

/** Most answers in Y: the paper's sets are two (True/False) to five (option letters). */
export const MAX_CONSISTENCY_ANSWERS = 32;

/**
 * The internal-consistency setting of a generation (kept with the experiment's settings):
 * whether the lens pass runs after it, where L' starts, and the answer set Y as texts.
 */
export const consistencySettingsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('After generation, read every block\'s logit lens at each generated token (one extra forward pass per variant)'),
  fromLayer: consistencyFromSchema.default(0).describe("The first block the score counts (L'); 'middle' starts at block floor(N/2)"),
  answers: z
    .array(z.string().min(1, 'an answer must not be empty').max(200))
    .max(MAX_CONSISTENCY_ANSWERS)
    .default([])
    .describe('The answer set Y (e.g. " True", " False"): also score the answer token, with each block\'s argmax over these tokens only'),
});
export type ConsistencySettings = z.output<typeof consistencySettingsSchema>;

/** The blocks a score counts, in order: `from` to the block before the last (the only block of a one-block model); empty when `from` is past them. */
export function consistencyLayers(nBlocks: number, from: ConsistencyFrom = 0): number[] {
  if (nBlocks <= 1) return nBlocks === 1 && (from === 0 || from === 'middle') ? [0] : [];
  const last = nBlocks - 2;
  const start = from === 'middle' ? Math.min(Math.floor(nBlocks / 2), last) : from;
  return Array.from({ length: Math.max(0, last - start + 1) }, (_, i) => start + i);
}

/** Per block: does its reading equal the final token? */
export function blockAgreement(readings: readonly number[], token: number): boolean[] {
  return readings.map((id) => id === token);
}

/** The share of the layer set's blocks whose reading is the final token; 0 for an empty set. */
export function tokenConsistency(readings: readonly number[], token: number, from: ConsistencyFrom = 0): number {
  const layers = consistencyLayers(readings.length, from);
  return layers.length === 0 ? 0 : layers.filter((layer) => readings[layer] === token).length / layers.length;
}

/** The mean token score of a response's tokens that carry a lens reading; null when none does or the layer set is empty. */
export function responseConsistency(tokens: readonly { id: number; lensTop1?: number[] }[], from: ConsistencyFrom = 0): number | null {
  const scored = tokens.filter((token): token is { id: number; lensTop1: number[] } => token.lensTop1 !== undefined);
  if (scored.length === 0 || consistencyLayers(scored[0].lensTop1.length, from).length === 0) return null;
  return scored.reduce((sum, token) => sum + tokenConsistency(token.lensTop1, token.id, from), 0) / scored.length;
}

const tokenId = z.int().min(0);

/**
 * The paper's IC at the answer: each block's argmax over the answer tokens Y at the
 * position that predicted the answer, compared with the answer the model gave.
 */
export const answerConsistencySchema = z.strictObject({
  /** Y as token ids, in the order given (a text of several tokens stands for its first). */
  answers: z.array(tokenId).min(1).max(MAX_CONSISTENCY_ANSWERS),
  /** The vocabulary entry of each, so a saved file shows them without the tokenizer. */
  answerTexts: z.array(z.string()).max(MAX_CONSISTENCY_ANSWERS),
  /** Null when the response never emits a token of Y (then a warning says what it emitted). */
  at: z
    .strictObject({
      /** Index of the answer among the generated tokens: the last generated token in Y. */
      index: z.int().min(0),
      /** The answer the model gave (ŷ_N): the generated token there. */
      token: tokenId,
      /** [block]: ŷ_l, the token of Y with the largest lens logit at the position that predicted it. */
      readings: z.array(tokenId).max(4096),
      /** IC over the layer set. */
      score: z.number().min(0).max(1),
    })
    .nullable(),
  /** Tokenization problems: an answer of several tokens, an answer spelt unlike what the model wrote. */
  warnings: z.array(z.string()).max(MAX_CONSISTENCY_ANSWERS + 1),
});
export type AnswerConsistency = z.output<typeof answerConsistencySchema>;

/** `cli consistency --json`: one generated response's internal consistency (snake_case, like every command). */
export const consistencyOutputSchema = z.strictObject({
  prompt_ids: z.array(tokenId),
  /** The generated tokens. */
  ids: z.array(tokenId),
  text: z.string(),
  stop_reason: z.string(),
  /** N, and L' (the blocks the scores count) with where it starts. */
  blocks: z.int().min(1),
  from_layer: consistencyFromSchema,
  layers: z.array(z.int().min(0)),
  tokens: z.array(
    z.strictObject({
      id: tokenId,
      text: z.string(),
      /** [block]: full-vocabulary lens top-1 at the position that predicted the token, and whether it is the token. */
      lens_top1: z.array(tokenId),
      agree: z.array(z.boolean()),
      /** The share of L' that agrees. */
      score: z.number().min(0).max(1),
    }),
  ),
  /** The response's IC: the mean token score; null with no generated token. */
  ic: z.number().min(0).max(1).nullable(),
  /** Over the answer set Y; null without --answers. */
  answer: z
    .strictObject({
      answers: z.array(tokenId),
      answer_texts: z.array(z.string()),
      at: z.strictObject({ index: z.int().min(0), token: tokenId, token_text: z.string(), readings: z.array(tokenId), agree: z.array(z.boolean()), ic: z.number().min(0).max(1) }).nullable(),
      warnings: z.array(z.string()),
    })
    .nullable(),
  forward_passes: z.int().min(0),
  provider: z.string(),
  /** --samples: calibrated self-consistency over the sampled paths (the fields above describe the first). */
  self_consistency: z
    .strictObject({
      paths: z.array(z.strictObject({ seed: z.int().min(0), text: z.string(), answer: tokenId.nullable(), ic: z.number().min(0).max(1).nullable() })),
      /** Per answer of Y: the paths that gave it, and the sum of their ICs. */
      votes: z.array(z.strictObject({ token: tokenId, text: z.string(), count: z.int().min(0), weight: z.number().min(0) })),
      majority: tokenId.nullable(),
      weighted: tokenId.nullable(),
    })
    .nullable(),
});
export type ConsistencyOutput = z.output<typeof consistencyOutputSchema>;
