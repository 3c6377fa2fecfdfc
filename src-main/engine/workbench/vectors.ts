/**
 * The vector library's engine side (the Vectors tab): extract from contrast prompts (or
 * one ActAdd pair), function vectors from chosen heads, import any vector file, export to one, and sweep a vector over scales x layers. Each
 * answers with plain JSON (number lists, not typed arrays) for the transports.
 */
import { z } from 'zod';
import type { ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { extractRequestSchema, extractVectors } from '../analysis/vectors/extract';
import { actAdd } from '../analysis/vectors/actadd';
import { functionVector, functionVectorRequestSchema } from '../analysis/vectors/function-vector';
import { steeringSweep, SWEEP_SITES, type SweepCell } from '../analysis/vectors/sweep';
import { tokenFromText } from '../analysis/tokens';
import type { AnalysisControl } from '../analysis/control';
import { readVectorSet } from '../interchange/read';
import { writeVectorFile } from '../interchange/write';
import { l2Norm } from '../interchange/vector-set';
import { generationSettingsSchema } from '../generate/settings';
import type { LibraryVector } from '../experiment/schema';
import { Sae, type SaeInfo } from '../interchange/saelens';
import { saeFeaturesOnPrompt, type TokenFeatures } from '../interchange/sae-features';

type Entry = LibraryVector['entries'][number];

export interface ImportedVectors {
  /** What the file says: its format, model, label, default strength, and anything to know. */
  format: string;
  model: string | null;
  label: string | null;
  strength: number | null;
  metadata: Record<string, string>;
  warnings: string[];
  /** Vectors the file places at a hook; those it does not (a bare list) carry hook null. */
  entries: { key: string | null; hook: string | null; vector: number[]; norm: number }[];
}

export const vectorRequestSchemas = {
  extractVectors: extractRequestSchema,
  /** ActAdd: one pair of prompts (the texts), read and added at one hook, row j at prompt position at + j. */
  actAddVector: z.strictObject({ positive: z.string().min(1, 'must not be empty'), negative: z.string().min(1, 'must not be empty'), hook: z.string().min(1), at: z.int().min(0).default(1) }),
  functionVector: functionVectorRequestSchema,
  importVectors: z.strictObject({ path: z.string().min(1) }),
  exportVectors: z.strictObject({
    path: z.string().min(1),
    model: z.string(),
    label: z.string().min(1),
    strength: z.number().default(1),
    endpoint: z.enum(['vector-new', 'steer-completion']).default('vector-new'),
    entries: z.array(z.strictObject({ hook: z.string().min(1), vector: z.array(z.number()).min(1) })).min(1, 'must hold a vector'),
    provenance: z.record(z.string(), z.string()).default(() => ({})),
  }),
  sweepVector: z.strictObject({
    promptIds: z.array(z.int().min(0)).min(1, 'must not be empty'),
    site: z.enum(SWEEP_SITES).default('resid_post'),
    layers: z.array(z.int().min(0)).min(1).max(64),
    scales: z.array(z.number()).min(1).max(64),
    /** One vector for all layers, or one per layer. */
    vectors: z.array(z.array(z.number()).min(1)).min(1),
    settings: generationSettingsSchema,
    /** A token as text (" happy", "#42"), or null for none. */
    target: z.string().nullable().default(null),
  }),
  saeFeatures: z.strictObject({ folder: z.string().min(1), promptIds: z.array(z.int().min(0)).min(1, 'must not be empty').max(1 << 16), top: z.int().min(1).max(64).default(5) }),
  saeDirection: z.strictObject({ folder: z.string().min(1), feature: z.int().min(0) }),
} as const;

/** An SAE folder opened for one request and closed after it. */
function withSae<T>(folder: string, use: (sae: Sae) => T): T {
  const sae = Sae.open(folder);
  try {
    return use(sae);
  } finally {
    sae.close();
  }
}

export type SaeSummary = Omit<SaeInfo, 'applyBDecToInput' | 'folder'>;

const summary = ({ architecture, hook, dIn, dSae, model, neuronpediaId, k }: SaeInfo): SaeSummary => ({ architecture, hook, dIn, dSae, model, neuronpediaId, k });

export async function saeFeatures(model: ModelHandle, request: z.output<typeof vectorRequestSchemas.saeFeatures>): Promise<{ sae: SaeSummary; tokens: TokenFeatures[] }> {
  const sae = Sae.open(request.folder);
  try {
    const { tokens } = await saeFeaturesOnPrompt(model, sae, request.promptIds, request.top);
    return { sae: summary(sae.info), tokens };
  } finally {
    sae.close();
  }
}

/** A feature's decoder row as a steering vector at the SAE's hook (checked against the model). */
export function saeDirection(model: ModelHandle, request: z.output<typeof vectorRequestSchemas.saeDirection>): { sae: SaeSummary; hook: string; vector: number[]; norm: number } {
  return withSae(request.folder, (sae) => {
    sae.checkModel(model.spec);
    const vector = sae.featureDirection(request.feature);
    return { sae: summary(sae.info), hook: sae.info.hook, vector: Array.from(vector), norm: l2Norm(vector) };
  });
}

export async function extractForLibrary(model: ModelHandle, request: z.input<typeof vectorRequestSchemas.extractVectors>): Promise<{ entries: Entry[]; pairs: number; forwardPasses: number }> {
  const result = await extractVectors(model, request);
  const entries = result.vectors.map((v) => ({ hook: v.hook, vector: Array.from(v.vector), norm: v.norm, relativeNorm: v.relativeNorm }));
  return { entries, pairs: result.pairs, forwardPasses: result.forwardPasses };
}

/** ActAdd's rows as library entries, each at its own prompt position, with the pair's tokens as padded. */
export async function actAddForLibrary(model: ModelHandle, request: z.output<typeof vectorRequestSchemas.actAddVector>): Promise<{ entries: Entry[]; positive: string[]; negative: string[] }> {
  const result = await actAdd(model, request.positive, request.negative, request.hook);
  const entries = result.rows.map((row, j) => {
    const norm = l2Norm(row);
    return { hook: result.hook, vector: Array.from(row), norm, relativeNorm: norm / result.residualNorm, position: request.at + j };
  });
  const texts = (ids: number[]) => ids.map((id) => model.tokenizer.tokenText(id));
  return { entries, positive: texts(result.positiveIds), negative: texts(result.negativeIds) };
}

/** A function vector as one library entry, with each chosen head's share. */
export async function functionVectorForLibrary(model: ModelHandle, request: z.input<typeof vectorRequestSchemas.functionVector>): Promise<{ entries: Entry[]; heads: { layer: number; head: number; norm: number }[]; forwardPasses: number }> {
  const result = await functionVector(model, request);
  return {
    entries: [{ hook: result.hook, vector: Array.from(result.vector), norm: result.norm, relativeNorm: result.relativeNorm }],
    heads: result.heads.map(({ layer, head, norm }) => ({ layer, head, norm })),
    forwardPasses: result.forwardPasses,
  };
}

export function importVectors(path: string): ImportedVectors {
  const set = readVectorSet(path);
  const entries = set.vectors.map(({ key, hook, vector }) => ({ key, hook, vector: Array.from(vector), norm: l2Norm(vector) }));
  return { format: set.format, model: set.model, label: set.label, strength: set.strength, metadata: set.metadata, warnings: set.warnings, entries };
}

export function exportVectors(request: z.output<typeof vectorRequestSchemas.exportVectors>): { path: string } {
  const hooks = request.entries.map((entry) => entry.hook);
  if (new Set(hooks).size !== hooks.length) throw new EngineError('bad_argument', 'two entries name the same hook; a file holds one vector per hook');
  const vectors = new Map(request.entries.map((entry) => [entry.hook, Float32Array.from(entry.vector)]));
  writeVectorFile(request.path, vectors, { model: request.model, label: request.label, strength: request.strength, neuronpediaEndpoint: request.endpoint, provenance: request.provenance });
  return { path: request.path };
}

export interface SweepAnswer {
  hooks: string[];
  layers: number[];
  scales: number[];
  target: { id: number; text: string } | null;
  baseline: Omit<SweepCell, 'layer' | 'scale'>;
  cells: SweepCell[][];
  forwardPasses: number;
}

export async function sweepVector(model: ModelHandle, request: z.output<typeof vectorRequestSchemas.sweepVector>, control: AnalysisControl = {}): Promise<SweepAnswer> {
  const target = request.target === null ? null : tokenFromText(model.tokenizer, request.target, 'target');
  const result = await steeringSweep(model, { ...request, target }, control);
  return { ...result, target: target === null ? null : { id: target, text: model.tokenizer.tokenText(target) } };
}
