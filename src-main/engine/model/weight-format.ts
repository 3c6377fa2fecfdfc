/**
 * How a model's weights are stored for the graph: float32 as in the checkpoint (exact
 * parity with the references), or every linear layer quantized to 8 or 4 bits per
 * weight in blocks (onnxruntime's MatMulNBits, graph/quantize.ts) with the token
 * embedding table in float16. This file is data and arithmetic only: what each format
 * costs in bytes, so a model's memory can be checked before anything is converted.
 */
import { z } from 'zod';
import { expectedParams, paramName, ropeTableRows, rotaryDim, type ModelSpec } from './spec';

export const WEIGHT_FORMATS = ['f32', 'int8', 'int4'] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];

export const DEFAULT_BLOCK_SIZE = 32;
/** Quantized matrices use MatMulNBits' int8-activation kernels unless asked otherwise. */
export const DEFAULT_ACCURACY_LEVEL = 4;

export const weightOptionsSchema = z.object({
  format: z.enum(WEIGHT_FORMATS),
  /** Weights per quantization block along in_features: a power of two, at least 16. */
  blockSize: z.number().int().min(16).max(4096).refine((n) => (n & (n - 1)) === 0, 'block size must be a power of two').default(DEFAULT_BLOCK_SIZE),
  /**
   * MatMulNBits accuracy_level: 0 computes in float32 (exact on the dequantized weights);
   * 4 quantizes the activations to int8 as well, about 1% less exact (ORT-NOTES.md) but
   * the fast path: int8 weights decode ~15x faster than at level 0 (npm run bench).
   */
  accuracyLevel: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).default(DEFAULT_ACCURACY_LEVEL),
});
export type WeightOptions = z.infer<typeof weightOptionsSchema>;

/** Checkpoint bytes a conversion reads and converts at a time (graph/weight-groups.ts). */
export const CONVERSION_CHUNK_BYTES = 16 * 1024 * 1024;
/** Output bytes one pass of a float32 transpose builds: one pass covers all but the largest matrices. */
export const TRANSPOSE_PASS_BYTES = 1024 * 1024 * 1024;

export const F32_WEIGHTS: WeightOptions = { format: 'f32', blockSize: DEFAULT_BLOCK_SIZE, accuracyLevel: DEFAULT_ACCURACY_LEVEL };

/** The options with defaults filled in: block 32, accuracy level 4. */
export function weightOptions(format: WeightFormat, overrides: Partial<Omit<WeightOptions, 'format'>> = {}): WeightOptions {
  return weightOptionsSchema.parse({ ...F32_WEIGHTS, ...overrides, format });
}

/** A short label for messages and cache folder names, e.g. "int4-b32-a0". */
export function weightOptionsLabel(options: WeightOptions): string {
  return options.format === 'f32' ? 'f32' : `${options.format}-b${options.blockSize}-a${options.accuracyLevel}`;
}

const bitsOf = (format: Exclude<WeightFormat, 'f32'>): number => (format === 'int8' ? 8 : 4);

/** Bytes of one [rows, cols] linear weight in MatMulNBits layout: codes, float32 scales, zero points. */
export function quantizedMatrixBytes(rows: number, cols: number, bits: number, blockSize: number): number {
  const blocks = Math.ceil(cols / blockSize);
  return rows * (blocks * ((blockSize * bits) / 8) + blocks * 4 + Math.ceil((blocks * bits) / 8));
}

/**
 * Bytes of the graph-layout weight file for `spec` in a format (graph/forward.ts
 * graphWeights): matrices as stored (the unembedding is its own copy even when tied),
 * vectors, learned positions and the rotary tables (two pairs with a local base) in float32, the token embedding in
 * float32 or float16.
 */
export function weightFileBytes(spec: ModelSpec, options: WeightOptions): number {
  let bytes = 0;
  for (const [name, shape] of expectedParams(spec)) {
    if (shape.length === 1 || name === paramName.posEmbed()) bytes += shape.reduce((a, b) => a * b, 1) * 4;
    else if (name === paramName.embed()) bytes += shape[0] * shape[1] * (options.format === 'f32' ? 4 : 2);
    else bytes += matrixBytes(shape[0], shape[1], options);
  }
  if (spec.tiedEmbeddings) bytes += matrixBytes(spec.dVocab, spec.dModel, options); // the head reads its own copy
  // Gemma 3's local blocks have their own (unscaled) tables, one row per position.
  const localRows = spec.traits.ropeLocalTheta === null ? 0 : spec.nCtx;
  const rotaryTables = spec.traits.positions === 'rotary' ? 2 * (ropeTableRows(spec) + localRows) * (rotaryDim(spec) / 2) * 4 : 0;
  return bytes + rotaryTables;
}

function matrixBytes(rows: number, cols: number, options: WeightOptions): number {
  return options.format === 'f32' ? rows * cols * 4 : quantizedMatrixBytes(rows, cols, bitsOf(options.format), options.blockSize);
}
