/**
 * The "look inside" analyses as data: what each one is asked (requests, in token ids, as
 * the engine runs them), what it gives back, and how the app keeps one in an experiment
 * file (the texts the user typed, the request, the result, and the text of every token
 * id the result names so a reopened file shows it without the tokenizer). Shared by the
 * engine, experiment files and the renderer (src-shared imports nothing but zod).
 */
import { z } from 'zod';
import { clampCurveInputSchema, clampCurveRequestSchema, clampCurveResultSchema } from './clamp-schema';

/** Lists are bounded so a hostile request is refused before it is read element by element. */
const MAX_TOKENS = 1 << 16;
const MAX_LAYERS = 4096;

const tokenId = z.int().min(0, 'must be a token id (a non-negative integer)');
const tokenIds = z.array(tokenId).min(1, 'must not be empty').max(MAX_TOKENS, `has more than ${MAX_TOKENS} tokens`);
const grid = z.array(z.array(z.number()).max(MAX_TOKENS)).max(MAX_LAYERS);
const intGrid = z.array(z.array(z.int()).max(MAX_TOKENS)).max(MAX_LAYERS);
const ints = (max: number) => z.array(z.int().min(0)).max(max);

// ------------------------------------------------------------------ logit lens

/** Where the lens reads, per block. Component outputs are normed alone: a direction readout. */
export const LENS_SITES = ['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out'] as const;
export type LensSite = (typeof LENS_SITES)[number];

export const lensRequestSchema = z.strictObject({
  ids: tokenIds,
  site: z.enum(LENS_SITES).default('resid_post'),
  /** Apply the final norm before the head (the logit lens); false reads the raw stream. */
  finalNorm: z.boolean().default(true),
  /** A token whose probability and rank are reported per layer and position. */
  target: tokenId.nullable().default(null),
});
export type LensRequest = z.output<typeof lensRequestSchema>;
export type LensRequestInput = z.input<typeof lensRequestSchema>;

export const lensResultSchema = z.strictObject({
  site: z.enum(LENS_SITES),
  finalNorm: z.boolean(),
  ids: ints(MAX_TOKENS),
  layers: ints(MAX_LAYERS),
  positions: ints(MAX_TOKENS),
  /** [layer][position]: the lens's most likely token, its probability, entropy (nats), KL(final || lens). */
  top1: intGrid,
  top1Prob: grid,
  entropy: grid,
  klToFinal: grid,
  /** [layer][position] for the target token; null without one. */
  targetProb: grid.nullable(),
  targetRank: intGrid.nullable(),
  /** The model's own output at each position, for reference. */
  final: z.strictObject({ top1: ints(MAX_TOKENS), top1Prob: z.array(z.number()).max(MAX_TOKENS), entropy: z.array(z.number()).max(MAX_TOKENS), targetProb: z.array(z.number()).max(MAX_TOKENS).nullable() }),
  forwardPasses: z.int().min(0),
});
export type LensResult = z.output<typeof lensResultSchema>;

// ------------------------------------------------------------------ activation patching

/** Patchable sites; `z` is attn.hook_z, swept per head over all positions. */
export const PATCH_SITES = ['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out', 'z'] as const;
export type PatchSite = (typeof PATCH_SITES)[number];
export const PATCH_METRICS = ['logit_diff', 'prob', 'kl'] as const;
export type PatchMetric = (typeof PATCH_METRICS)[number];

const PATCH_ALIGNMENT = z.union([
  z.enum(['start', 'end']),
  z.array(z.tuple([z.int().min(0), z.int().min(0)])).min(1, 'must pair at least one position').max(MAX_TOKENS),
]);
export type PatchAlignment = z.output<typeof PATCH_ALIGNMENT>;

export const patchRequestSchema = z.strictObject({
  clean: tokenIds,
  corrupted: tokenIds,
  /** The clean run's answer and the corrupted run's (the wrong answer for the clean prompt). */
  answer: tokenId,
  wrong: tokenId,
  site: z.enum(PATCH_SITES).default('resid_pre'),
  direction: z.enum(['denoising', 'noising']).default('denoising'),
  metric: z.enum(PATCH_METRICS).default('logit_diff'),
  /** 'each': one cell per position; 'all': every position of a layer at once (always so per head). */
  positions: z.enum(['each', 'all']).default('each'),
  /** Cells per forward pass. */
  batchSize: z.int().min(1).max(1024).default(32),
  /**
   * Which clean position is patched with which corrupted one: null pairs them one to one
   * (prompts of equal length); 'start' pairs them from the first token, 'end' from the
   * last; or explicit [clean, corrupted] pairs, increasing in both. Positions without a
   * pair are never patched.
   */
  alignment: PATCH_ALIGNMENT.nullable().default(null),
});
export type PatchRequest = z.output<typeof patchRequestSchema>;
export type PatchRequestInput = z.input<typeof patchRequestSchema>;

const runSummarySchema = z.strictObject({
  /** The metric's value (KL for kl), the logit difference and p(answer) of an unpatched run. */
  value: z.number(),
  logitDiff: z.number(),
  answerProb: z.number(),
});
export type RunSummary = z.output<typeof runSummarySchema>;

export const patchResultSchema = z.strictObject({
  request: patchRequestSchema,
  layers: ints(MAX_LAYERS),
  /** What a column is: a position (resid sites, 'each'), a head (z), or one column of all positions. */
  columnKind: z.enum(['position', 'head', 'all_positions']),
  columns: ints(MAX_TOKENS),
  /** [layer][column]: normalised effect, and the metric's raw value in the patched run. */
  effect: grid,
  value: grid,
  clean: runSummarySchema,
  corrupted: runSummarySchema,
  /**
   * Forward passes: the baselines' (one, or one per prompt when their lengths differ) and
   * the sweep's, each of up to batchSize cells as rows. A sweep pass feeds the base prompt
   * from its cells' first patched position on, through the blocks from their segment's
   * first (engine/analysis/sweep-passes.ts), so it is smaller than a full-prompt pass.
   */
  forwardPasses: z.int().min(0),
  /** Cells swept (one forward row each). */
  cells: z.int().min(0),
  /**
   * Blocks times positions the sweep's passes ran, summed over their rows: the work done.
   * One full pass per cell runs cells x the base prompt's length x the model's layers.
   * Absent in results saved before the sweep skipped the base run's work.
   */
  blockPositions: z.int().min(0).optional(),
  warnings: z.array(z.string()).max(100),
});
export type PatchResult = z.output<typeof patchResultSchema>;

// ------------------------------------------------------------------ causal tracing

export const TRACE_KINDS = ['hidden', 'mlp', 'attn'] as const;
export type TraceKind = (typeof TRACE_KINDS)[number];

export const tracingRequestSchema = z
  .strictObject({
    ids: tokenIds,
    /** The subject's tokens, positions [start, end): the ones the noise corrupts. */
    subject: z.strictObject({ start: z.int().min(0), end: z.int().min(1) }),
    /** The token whose probability is restored; null takes the clean run's top-1. */
    answer: tokenId.nullable().default(null),
    /** Restore the block output (hidden), or the MLP or attention output over a window of layers. */
    kind: z.enum(TRACE_KINDS).default('hidden'),
    /** Layers restored together around each layer for mlp and attn ([l - window/2, l + window/2), clipped). */
    window: z.int().min(1).max(MAX_LAYERS).default(10),
    samples: z.int().min(1).max(100).default(10),
    /** Noise std as a multiple of the std of the prompt's embedding entries (ROME: 3). */
    noiseScale: z.number().min(0).max(100).default(3),
    seed: z.int().min(0).default(0),
    /** Batch rows per forward pass (each cell takes `samples` rows). */
    batchSize: z.int().min(1).max(1024).default(64),
  })
  .refine((request) => request.subject.end > request.subject.start, { message: 'subject.end must be after subject.start', path: ['subject', 'end'] });
export type TracingRequest = z.output<typeof tracingRequestSchema>;
export type TracingRequestInput = z.input<typeof tracingRequestSchema>;

export const tracingResultSchema = z.strictObject({
  layers: ints(MAX_LAYERS),
  positions: ints(MAX_TOKENS),
  answer: z.int().min(0),
  /** p(answer) of the clean run, and its mean over the corrupted (noised) runs. */
  cleanProb: z.number(),
  corruptedProb: z.number(),
  /** [layer][position]: mean p(answer) with that state restored, and its indirect effect (restored - corrupted). */
  restoredProb: grid,
  indirectEffect: grid,
  noiseStd: z.number(),
  forwardPasses: z.int().min(0),
  cells: z.int().min(0),
});
export type TracingResult = z.output<typeof tracingResultSchema>;

// ------------------------------------------------------------------ attention patterns

/** Prompts longer than this are refused: the patterns grow with layers x heads x tokens^2 and go into the file. */
export const MAX_ATTENTION_TOKENS = 128;

export const attentionRequestSchema = z.strictObject({
  ids: z.array(tokenId).min(1, 'must not be empty').max(MAX_ATTENTION_TOKENS, `has more than ${MAX_ATTENTION_TOKENS} tokens: attention patterns of longer prompts are too large to keep`),
});
export type AttentionRequest = z.output<typeof attentionRequestSchema>;

export const attentionResultSchema = z.strictObject({
  layers: ints(MAX_LAYERS),
  heads: z.int().min(1),
  positions: ints(MAX_ATTENTION_TOKENS),
  /** [layer][head][query][key]: attention weights after softmax (0 above the diagonal). */
  patterns: z.array(z.array(grid).max(1024)).max(MAX_LAYERS),
  forwardPasses: z.int().min(0),
});
export type AttentionResult = z.output<typeof attentionResultSchema>;

// ------------------------------------------------------------------ neuron atlas

/** Which of an MLP neuron's weights is decoded: what it reads (up row, gate row in gated MLPs) or what it writes (down column). */
export const NEURON_MATRICES = ['up', 'gate', 'down'] as const;
export type NeuronMatrix = (typeof NEURON_MATRICES)[number];
export const MAX_ATLAS_TOP = 100;
export const MAX_ATLAS_LIMIT = 1000;
/**
 * How a neuron's tokens are ranked: by their logit in its decoded direction ('none'), or
 * by that logit's z-score across all neurons of the layer and matrix ('zscore', METHODS.md
 * 5), which keeps a token that tops many neurons from labelling them all.
 */
export const ATLAS_RANKINGS = ['none', 'zscore'] as const;
export type AtlasRanking = (typeof ATLAS_RANKINGS)[number];
const ranking = z.enum(ATLAS_RANKINGS).default('none');

export const atlasRequestSchema = z.strictObject({
  /** One layer (its table of every neuron is returned), or null for every layer (search and active neurons only). */
  layer: z.int().min(0).nullable().default(null),
  /** Tokens kept per neuron and matrix. */
  top: z.int().min(1).max(MAX_ATLAS_TOP).default(10),
  /** Decode through the final norm (its gain and scaling; default), or the raw direction. */
  finalNorm: z.boolean().default(true),
  normalise: ranking,
  /** Rank the neurons by this token's logit in their decoded `searchMatrix` direction ("which neurons say ' dog'"). */
  search: tokenId.nullable().default(null),
  searchMatrix: z.enum(NEURON_MATRICES).default('up'),
  /** A prompt: its most active neurons (largest |mlp.hook_post| at any position). */
  ids: tokenIds.nullable().default(null),
  /** Neurons listed by search and by activity. */
  limit: z.int().min(1).max(MAX_ATLAS_LIMIT).default(50),
  /** Neuron directions per graph run. */
  chunkSize: z.int().min(1).max(4096).default(256),
});
export type AtlasRequest = z.output<typeof atlasRequestSchema>;
export type AtlasRequestInput = z.input<typeof atlasRequestSchema>;

/**
 * One direction decoded: its top tokens (highest logit first, or highest z-score when so
 * ranked, with the z-scores), their probabilities in the decoded distribution, and its entropy (nats).
 */
const decodingSchema = z.strictObject({
  ids: ints(MAX_ATLAS_TOP),
  probs: z.array(z.number()).max(MAX_ATLAS_TOP),
  entropy: z.number(),
  scores: z.array(z.number()).max(MAX_ATLAS_TOP).nullable().default(null),
});
export type NeuronDecoding = z.output<typeof decodingSchema>;

const neuronSchema = z.strictObject({
  layer: z.int().min(0),
  neuron: z.int().min(0),
  /** By matrix; gate is null in a plain MLP. */
  up: decodingSchema,
  gate: decodingSchema.nullable(),
  down: decodingSchema,
});
export type AtlasNeuron = z.output<typeof neuronSchema>;

export const atlasResultSchema = z.strictObject({
  layers: ints(MAX_LAYERS),
  dMlp: z.int().min(1),
  matrices: z.array(z.enum(NEURON_MATRICES)).max(3),
  top: z.int().min(1),
  finalNorm: z.boolean(),
  normalise: ranking,
  /** Every neuron of the requested layer, in order; null when every layer was asked for. */
  table: z.array(neuronSchema).max(1 << 20).nullable(),
  search: z
    .strictObject({
      token: z.int().min(0),
      matrix: z.enum(NEURON_MATRICES),
      /**
       * Neurons by the token's logit in their decoded direction (by its z-score in the
       * neuron's layer when so ranked, then also given), highest first, with its
       * probability and rank (0 = top-1; null beyond the kept top tokens).
       */
      neurons: z.array(neuronSchema.extend({ logit: z.number(), score: z.number().nullable().default(null), prob: z.number(), rank: z.int().min(0).nullable() })).max(MAX_ATLAS_LIMIT),
    })
    .nullable(),
  active: z
    .strictObject({
      ids: ints(MAX_TOKENS),
      /** Neurons by their largest |mlp.hook_post| on the prompt: its signed value and position. */
      neurons: z.array(neuronSchema.extend({ activation: z.number(), position: z.int().min(0) })).max(MAX_ATLAS_LIMIT),
    })
    .nullable(),
  /**
   * Neuron directions decoded in this run (one per neuron and matrix), those read from the
   * cache instead, the seconds the decoding took, and directions per second (null when all were cached).
   */
  decoded: z.int().min(0),
  cached: z.int().min(0),
  seconds: z.number().min(0),
  neuronsPerSecond: z.number().min(0).nullable(),
  graphRuns: z.int().min(0),
});
export type AtlasResult = z.output<typeof atlasResultSchema>;

/** Changed neurons listed by a comparison at most. */
export const MAX_COMPARE_CHANGED = 10_000;

/** Two models of one shape (a base and its instruct tune): which neurons keep their top-1 token (METHODS.md 5; paper: 75.4% of up rows). */
export const atlasCompareRequestSchema = z.strictObject({
  /** The layers compared; null for every layer. */
  layers: z.array(z.int().min(0)).min(1, 'must name a layer').max(MAX_LAYERS).nullable().default(null),
  matrix: z.enum(NEURON_MATRICES).default('up'),
  finalNorm: z.boolean().default(true),
  normalise: ranking,
  /** Changed neurons listed (the counts cover all of them). */
  limit: z.int().min(1).max(MAX_COMPARE_CHANGED).default(1000),
  chunkSize: z.int().min(1).max(4096).default(256),
});
export type AtlasCompareRequest = z.output<typeof atlasCompareRequestSchema>;
export type AtlasCompareRequestInput = z.input<typeof atlasCompareRequestSchema>;

/** A neuron's top-1 token in one model: its probability, and its z-score when so ranked. */
const topTokenSchema = z.strictObject({ id: z.int().min(0), prob: z.number(), score: z.number().nullable() });

export const atlasCompareResultSchema = z.strictObject({
  layers: ints(MAX_LAYERS),
  matrix: z.enum(NEURON_MATRICES),
  finalNorm: z.boolean(),
  normalise: z.enum(ATLAS_RANKINGS),
  dMlp: z.int().min(1),
  /** Per compared layer: neurons whose top-1 token is the same in both models, and their fraction. */
  perLayer: z.array(z.strictObject({ layer: z.int().min(0), same: z.int().min(0), agreement: z.number().min(0).max(1) })).max(MAX_LAYERS),
  same: z.int().min(0),
  total: z.int().min(0),
  agreement: z.number().min(0).max(1),
  /** Neurons whose top-1 token differs, by layer then neuron, the first `limit` of `changedCount`. */
  changed: z.array(z.strictObject({ layer: z.int().min(0), neuron: z.int().min(0), base: topTokenSchema, other: topTokenSchema })).max(MAX_COMPARE_CHANGED),
  changedCount: z.int().min(0),
  /** Directions decoded in this run (both models) and read from their caches, and the seconds the decoding took. */
  decoded: z.int().min(0),
  cached: z.int().min(0),
  seconds: z.number().min(0),
  /** E.g. token ids whose text differs between the two tokenizers (the comparison matches ids). */
  warnings: z.array(z.string()).max(100).default([]),
});
export type AtlasCompareResult = z.output<typeof atlasCompareResultSchema>;

/** `cli atlas compare --json` (snake_case, like every command): the result, each top token with its text in its model's tokenizer. */
const topTokenOutputSchema = topTokenSchema.extend({ text: z.string() });
export const atlasCompareOutputSchema = z.strictObject({
  layers: ints(MAX_LAYERS),
  matrix: z.enum(NEURON_MATRICES),
  final_norm: z.boolean(),
  normalise: z.enum(ATLAS_RANKINGS),
  d_mlp: z.int().min(1),
  per_layer: atlasCompareResultSchema.shape.perLayer,
  same: z.int().min(0),
  total: z.int().min(0),
  agreement: z.number().min(0).max(1),
  changed: z.array(z.strictObject({ layer: z.int().min(0), neuron: z.int().min(0), base: topTokenOutputSchema, other: topTokenOutputSchema })).max(MAX_COMPARE_CHANGED),
  changed_count: z.int().min(0),
  decoded: z.int().min(0),
  cached: z.int().min(0),
  seconds: z.number().min(0),
  warnings: z.array(z.string()).max(100),
});
export type AtlasCompareOutput = z.output<typeof atlasCompareOutputSchema>;

// ------------------------------------------------------------------ in the app and the experiment file

/** What the user types: texts, and answers as token texts (a vocabulary entry, or #id). */
export const lensInputSchema = z.strictObject({
  text: z.string().min(1, 'must not be empty').max(100_000),
  target: z.string().max(1000).nullable().default(null),
  site: z.enum(LENS_SITES).default('resid_post'),
  finalNorm: z.boolean().default(true),
});
export const patchInputSchema = z.strictObject({
  clean: z.string().min(1, 'must not be empty').max(100_000),
  corrupted: z.string().min(1, 'must not be empty').max(100_000),
  answer: z.string().min(1, 'must name a token').max(1000),
  wrong: z.string().min(1, 'must name a token').max(1000),
  site: z.enum(PATCH_SITES).default('resid_pre'),
  direction: z.enum(['denoising', 'noising']).default('denoising'),
  metric: z.enum(PATCH_METRICS).default('logit_diff'),
  positions: z.enum(['each', 'all']).default('each'),
  /** Prompts of different token lengths: pair their positions from the start or from the end. */
  alignment: z.enum(['start', 'end']).nullable().default(null),
});
export const tracingInputSchema = z.strictObject({
  text: z.string().min(1, 'must not be empty').max(100_000),
  /** The subject as it appears in the text; its tokens get the noise. */
  subject: z.string().min(1, 'must name the subject').max(1000),
  answer: z.string().max(1000).nullable().default(null),
  kind: z.enum(TRACE_KINDS).default('hidden'),
  window: z.int().min(1).max(MAX_LAYERS).default(10),
  samples: z.int().min(1).max(100).default(10),
  seed: z.int().min(0).default(0),
});
export type TracingInput = z.input<typeof tracingInputSchema>;
export const attentionInputSchema = z.strictObject({ text: z.string().min(1, 'must not be empty').max(100_000) });
export const atlasInputSchema = z.strictObject({
  layer: z.int().min(0).nullable().default(null),
  top: z.int().min(1).max(MAX_ATLAS_TOP).default(10),
  finalNorm: z.boolean().default(true),
  /** A token as text (a vocabulary entry, or #id), or null. */
  search: z.string().min(1).max(1000).nullable().default(null),
  searchMatrix: z.enum(NEURON_MATRICES).default('up'),
  normalise: ranking,
  /** The prompt whose most active neurons are listed, or null. */
  text: z.string().min(1).max(100_000).nullable().default(null),
  limit: z.int().min(1).max(MAX_ATLAS_LIMIT).default(50),
});
export type AtlasInput = z.input<typeof atlasInputSchema>;
/** The loaded model is the base; the other model's folder or file is loaded in the same weight format for the comparison. */
export const atlasCompareInputSchema = z.strictObject({
  otherPath: z.string().min(1, 'must name the other model').max(4096),
  layer: z.int().min(0).nullable().default(null),
  matrix: z.enum(NEURON_MATRICES).default('up'),
  finalNorm: z.boolean().default(true),
  normalise: ranking,
  limit: z.int().min(1).max(MAX_COMPARE_CHANGED).default(1000),
});
export type AtlasCompareInput = z.input<typeof atlasCompareInputSchema>;
export type LensInput = z.input<typeof lensInputSchema>;
export type PatchInput = z.input<typeof patchInputSchema>;

export const analysisInputSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('lens'), input: lensInputSchema }),
  z.strictObject({ kind: z.literal('patching'), input: patchInputSchema }),
  z.strictObject({ kind: z.literal('tracing'), input: tracingInputSchema }),
  z.strictObject({ kind: z.literal('attention'), input: attentionInputSchema }),
  z.strictObject({ kind: z.literal('atlas'), input: atlasInputSchema }),
  z.strictObject({ kind: z.literal('clamp_curve'), input: clampCurveInputSchema }),
  z.strictObject({ kind: z.literal('atlas_compare'), input: atlasCompareInputSchema }),
]);
export type AnalysisInput = z.input<typeof analysisInputSchema>;

/** Token id (as a JSON key) -> its vocabulary text, for every id a result names. */
const labelsSchema = z.record(z.string(), z.string());

const recordBase = { id: z.string().min(1).max(100), createdAt: z.string(), labels: labelsSchema };
export const analysisRecordSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('lens'), ...recordBase, input: lensInputSchema, request: lensRequestSchema, result: lensResultSchema }),
  z.strictObject({ kind: z.literal('patching'), ...recordBase, input: patchInputSchema, request: patchRequestSchema, result: patchResultSchema }),
  z.strictObject({ kind: z.literal('tracing'), ...recordBase, input: tracingInputSchema, request: tracingRequestSchema, result: tracingResultSchema }),
  z.strictObject({ kind: z.literal('attention'), ...recordBase, input: attentionInputSchema, request: attentionRequestSchema, result: attentionResultSchema }),
  z.strictObject({ kind: z.literal('atlas'), ...recordBase, input: atlasInputSchema, request: atlasRequestSchema, result: atlasResultSchema }),
  // Files older than the clamp curve hold none: the new kind only widens the union, so they read as before.
  z.strictObject({ kind: z.literal('clamp_curve'), ...recordBase, input: clampCurveInputSchema, request: clampCurveRequestSchema, result: clampCurveResultSchema }),
  z.strictObject({ kind: z.literal('atlas_compare'), ...recordBase, input: atlasCompareInputSchema, request: atlasCompareRequestSchema, result: atlasCompareResultSchema }),
]);
export type AnalysisRecord = z.output<typeof analysisRecordSchema>;
