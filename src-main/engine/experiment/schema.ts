/**
 * The experiment document (`*.tiller.json`), in memory. Vectors are plain number arrays
 * here; on disk large ones move to a sidecar safetensors file (experiment/file.ts).
 */
import { z } from 'zod';
import { decodingSchema } from '../../../src-shared/decoding-schema';
import { analysisRecordSchema } from '../../../src-shared/analysis-schema';
import { answerConsistencySchema, consistencySettingsSchema } from '../../../src-shared/consistency';
import { generationSettingsSchema } from '../generate/settings';
import { GENERIC_LIMITS } from '../../../src-shared/plan-schema';
import { interventionSchema } from '../hooks/plan';
import { weightOptionsSchema } from '../model/weight-format';

export const EXPERIMENT_FORMAT = 'tiller-experiment';
/** A new experiment's name until it is saved: then it takes the file's (ExperimentStore.save). */
export const DEFAULT_EXPERIMENT_NAME = 'Untitled experiment';

// Every list is bounded (zod then refuses an over-long one before reading it): far above
// real experiments, low enough that a hostile file is refused in one issue.
const MAX_VARIANTS = 256;
const MAX_ALTERNATIVES = 1000;
export const EXPERIMENT_VERSION = 1;

/** A contrast vector from the mean over each prompt's own tokens, or from the last position only. */
export const contrastReduceSchema = z.enum(['mean', 'last']);

/**
 * How a steering vector was made, so a reopened experiment shows it (the vector itself is
 * in the intervention); for a patch, the prompt its source ids came from.
 */
export const vectorOriginSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('embedding'), token: z.string(), tokenId: z.int().min(0) }),
  // reduce: how each prompt's positions became one vector; files older than the choice used 'last'.
  z.strictObject({ kind: z.literal('contrast'), hook: z.string(), positive: z.string(), negative: z.string(), reduce: contrastReduceSchema.default('last') }),
  z.strictObject({ kind: z.literal('file'), path: z.string(), key: z.string().optional() }),
  // Not a vector: the text a patch's source.prompt_ids were tokenized from, so the UI can show it again.
  z.strictObject({ kind: z.literal('patch-source'), text: z.string() }),
]);

export const variantSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1, 'must not be empty'),
  interventions: z.array(interventionSchema).max(GENERIC_LIMITS.steps).default(() => []),
  /** Origin of the vector (or a patch's source prompt) of interventions[i], keyed by i (as a string, JSON keys are strings). */
  origins: z.record(z.string(), vectorOriginSchema).default(() => ({})),
  decoding: decodingSchema.default({ strategy: 'greedy' }),
});

/**
 * A steering vector kept in the experiment's library (the Vectors tab): one vector per
 * hook (an extracted layer range, a control vector's layers), what it was made for and
 * how, so it can be applied to any variant with a scale and exported again.
 */
export const libraryVectorSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1, 'must not be empty'),
  /** The model it was made with or for (the model's family or a file's model hint). */
  model: z.string(),
  entries: z
    .array(
      z.strictObject({
        hook: z.string().min(1),
        vector: z.array(z.number()).min(1, 'must not be empty').max(1 << 20),
        norm: z.number().min(0),
        /** ||v|| / mean ||h|| at the hook when extracted; null when unknown (imported). */
        relativeNorm: z.number().min(0).nullable(),
        /** The one prompt position it is added at (ActAdd's front-aligned rows); absent: every position. */
        position: z.int().min(0).optional(),
      }),
    )
    .min(1, 'must hold a vector')
    .max(1024),
  /** How it was made: kind (extract, file, function), method, readout, prompt counts, source file... */
  provenance: z.record(z.string(), z.string()),
});

export const modelRefSchema = z.strictObject({
  path: z.string().min(1),
  format: z.enum(['huggingface', 'llama2c']),
  architecture: z.string(),
  /** The engine's model family (e.g. 'llama'); absent in files written before it was kept. */
  family: z.string().optional(),
  /** model/fingerprint.ts: sampled hash of the checkpoint files. */
  fingerprint: z.string().min(1),
  tokenizerPath: z.string().optional(),
  /** How the weights were stored for the results (absent in files written before formats existed: float32). */
  weights: weightOptionsSchema.optional(),
});

export const promptSchema = z.strictObject({
  text: z.string(),
  /** Wrap the text in the model's chat template. */
  chat: z.boolean().default(false),
});

const alternativeSchema = z.strictObject({ id: z.int(), text: z.string(), logprob: z.number() });

export const tokenRecordSchema = z.strictObject({
  id: z.int().min(0),
  text: z.string(),
  logprob: z.number(),
  top: z.array(alternativeSchema).max(MAX_ALTERNATIVES),
  /** The baseline's logprob of this token at the same step (variants after the first only). */
  baselineLogprob: z.number().optional(),
  /**
   * Internal consistency (src-shared/consistency.ts): each block's logit-lens top-1 at the
   * position that predicted this token; absent while streaming and in older files.
   */
  lensTop1: z.array(z.int().min(0)).max(4096).optional(),
  /** Lens-based decoding only: the layer used at this step and the score of each candidate. */
  decoding: z
    .strictObject({ strategy: z.enum(['lfd', 'dola']), layer: z.int(), scores: z.record(z.string(), z.number()) })
    .optional(),
});

export const variantResultSchema = z.strictObject({
  variantId: z.string(),
  tokens: z.array(tokenRecordSchema).max(GENERIC_LIMITS.positions),
  text: z.string(),
  stopReason: z.enum(['eos', 'stop_string', 'max_tokens', 'context_full', 'cancelled']),
  tokensPerSecond: z.number(),
  /** Internal consistency over the answer set Y (settings.consistency.answers); absent without answers, with the lens pass off, and in older files. */
  answerConsistency: answerConsistencySchema.optional(),
});

export const resultsSchema = z.strictObject({
  ranAt: z.string(),
  provider: z.string(),
  promptIds: z.array(z.int().min(0)).max(GENERIC_LIMITS.positions),
  variants: z.array(variantResultSchema).max(MAX_VARIANTS),
});

export const experimentSchema = z.strictObject({
  format: z.literal(EXPERIMENT_FORMAT),
  version: z.literal(EXPERIMENT_VERSION),
  name: z.string().default(DEFAULT_EXPERIMENT_NAME),
  createdAt: z.string(),
  updatedAt: z.string(),
  model: modelRefSchema.nullable(),
  prompt: promptSchema,
  settings: generationSettingsSchema,
  /** Internal consistency after each run (the lens pass, L', the answer set); files older than it get the defaults: on, every block, no answers. */
  consistency: consistencySettingsSchema.prefault({}),
  /** variants[0] is the baseline every other column is compared with. */
  variants: z.array(variantSchema).min(1, 'must hold at least the baseline').max(MAX_VARIANTS),
  /** The vector library; absent in files written before it existed. */
  vectors: z.array(libraryVectorSchema).max(1000).default(() => []),
  results: resultsSchema.nullable().default(null),
  /** Inside-tab analyses (logit lens, patching sweeps), each with its inputs and results, oldest first. */
  analyses: z.array(analysisRecordSchema).max(1000).default(() => []),
});

export type VectorOrigin = z.infer<typeof vectorOriginSchema>;
export type LibraryVector = z.infer<typeof libraryVectorSchema>;
export type Variant = z.infer<typeof variantSchema>;
export type VariantInput = z.input<typeof variantSchema>;
export type ModelRef = z.infer<typeof modelRefSchema>;
export type TokenRecord = z.infer<typeof tokenRecordSchema>;
export type VariantResult = z.infer<typeof variantResultSchema>;
export type ExperimentResults = z.infer<typeof resultsSchema>;
export type Experiment = z.infer<typeof experimentSchema>;

/**
 * The experiment file as a JSON Schema (docs/tiller-experiment.schema.json), for editors
 * and other tools. It describes the JSON as written: a long number list of an
 * intervention may be a {"$tensor", "shape"} reference into the sidecar (tensors.ts), so
 * every list of numbers (or of rows of numbers) also admits that form.
 */
export function experimentJsonSchema(): Record<string, unknown> {
  const schema = allowTensorRefs(z.toJSONSchema(experimentSchema, { io: 'input', unrepresentable: 'any' })) as { properties: Record<string, unknown> };
  // The sidecar's file name, beside the JSON, when the file has one (file.ts).
  schema.properties.sidecar = { type: 'string', pattern: '\\.safetensors$' };
  return schema;
}

const TENSOR_REF_JSON_SCHEMA = {
  type: 'object',
  properties: { $tensor: { type: 'string' }, shape: { type: 'array', items: { type: 'integer', minimum: 0 } } },
  required: ['$tensor', 'shape'],
  additionalProperties: false,
};

function allowTensorRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowTensorRefs);
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, allowTensorRefs(value)]));
  return isNumberList(node) ? { anyOf: [entries, TENSOR_REF_JSON_SCHEMA] } : entries;
}

function isNumberList(node: object): boolean {
  const { type, items } = node as { type?: unknown; items?: { type?: unknown } };
  if (type !== 'array' || typeof items !== 'object' || items === null) return false;
  return items.type === 'number' || isNumberList(items);
}
