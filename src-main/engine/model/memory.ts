/**
 * Will a model fit? The memory a model needs in each weight format, worked out from its
 * spec before anything is converted, so a model that cannot fit is refused with the
 * numbers instead of swapping the machine to a halt, and the app can propose a smaller
 * format when float32 would not fit comfortably.
 */
import { EngineError } from '../errors';
import type { ModelSpec } from './spec';
import { CONVERSION_CHUNK_BYTES, TRANSPOSE_PASS_BYTES, WEIGHT_FORMATS, weightFileBytes, weightOptions, weightOptionsLabel, type WeightFormat, type WeightOptions } from './weight-format';

/** The context a generation is budgeted for: KV caches grow with use, up to n_ctx. */
const BUDGETED_POSITIONS = 4096;
/** float32 is the default while its total stays under this share of the available memory. */
const COMFORTABLE_SHARE = 0.5;

export interface MemoryEstimate {
  weights: WeightOptions;
  /**
   * The weights as the running session holds them: onnxruntime prepacks each matrix into
   * its own memory, after which the memory-mapped file pages are cache the OS can drop.
   */
  weightBytes: number;
  /** Keys and values of one sequence over BUDGETED_POSITIONS positions (or n_ctx if shorter). */
  kvCacheBytes: number;
  /** Peak of the first-load conversion: a float32 transpose holds a band of its output matrix. */
  conversionBytes: number;
  totalBytes: number;
}

export function memoryEstimate(spec: ModelSpec, weights: WeightOptions): MemoryEstimate {
  const weightBytes = weightFileBytes(spec, weights);
  const positions = Math.min(spec.nCtx, BUDGETED_POSITIONS);
  const kvCacheBytes = 2 * spec.nLayers * spec.nKvHeads * spec.dHead * positions * 4;
  const largestMatrix = Math.max(spec.dVocab * spec.dModel, spec.dMlp * spec.dModel, spec.nHeads * spec.dHead * spec.dModel);
  const chunk = Math.min(CONVERSION_CHUNK_BYTES, largestMatrix * 4); // rows read at once, and their quantized form
  const conversionBytes = chunk + (weights.format === 'f32' ? Math.min(largestMatrix * 4, TRANSPOSE_PASS_BYTES) : chunk);
  return { weights, weightBytes, kvCacheBytes, conversionBytes, totalBytes: weightBytes + kvCacheBytes + conversionBytes };
}

export interface FormatAdvice {
  estimates: Record<WeightFormat, MemoryEstimate>;
  availableBytes: number;
  /** The format to load by default, or null when none fits. */
  recommended: WeightFormat | null;
  /** Why, in a sentence the app shows next to the choice. */
  reason: string;
}

export const gigabytes = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e9 ? 2 : 1)} GB`;

/** float32 when it fits comfortably (exact parity with the references); else the largest format that fits. */
export function adviseFormat(spec: ModelSpec, availableBytes: number): FormatAdvice {
  const estimates = Object.fromEntries(WEIGHT_FORMATS.map((format) => [format, memoryEstimate(spec, weightOptions(format))])) as Record<WeightFormat, MemoryEstimate>;
  const f32 = estimates.f32.totalBytes;
  if (f32 <= COMFORTABLE_SHARE * availableBytes) {
    return { estimates, availableBytes, recommended: 'f32', reason: `float32 weights need about ${gigabytes(f32)} of the ${gigabytes(availableBytes)} available: exact, and the default` };
  }
  const fitting = (['int8', 'int4'] as const).find((format) => estimates[format].totalBytes <= availableBytes);
  if (!fitting) {
    return { estimates, availableBytes, recommended: null, reason: `even int4 weights need about ${gigabytes(estimates.int4.totalBytes)}, more than the ${gigabytes(availableBytes)} available` };
  }
  const fits = f32 <= availableBytes ? 'would fill more than half of' : 'do not fit in';
  return {
    estimates,
    availableBytes,
    recommended: fitting,
    reason: `float32 weights need about ${gigabytes(f32)} and ${fits} the ${gigabytes(availableBytes)} available; ${fitting} needs about ${gigabytes(estimates[fitting].totalBytes)}`,
  };
}

/** Refuse, with the numbers and the formats that would fit, a model that cannot fit in `availableBytes`. */
export function checkMemory(spec: ModelSpec, weights: WeightOptions, availableBytes: number, what: string): void {
  const estimate = memoryEstimate(spec, weights);
  if (estimate.totalBytes <= availableBytes) return;
  const advice = adviseFormat(spec, availableBytes);
  const others = (['int8', 'int4'] as const)
    .filter((format) => format !== weights.format && advice.estimates[format].totalBytes <= availableBytes)
    .map((format) => `${format} needs about ${gigabytes(advice.estimates[format].totalBytes)}`);
  throw new EngineError(
    'insufficient_memory',
    `${what} needs about ${gigabytes(estimate.totalBytes)} with ${weightOptionsLabel(weights)} weights ` +
      `(weights ${gigabytes(estimate.weightBytes)}, KV cache ${gigabytes(estimate.kvCacheBytes)}, conversion ${gigabytes(estimate.conversionBytes)}), ` +
      `but only ${gigabytes(availableBytes)} of memory is available` +
      (others.length > 0 ? `; ${others.join(', ')}: load it with that weight format` : '; no weight format fits'),
    { neededBytes: estimate.totalBytes, availableBytes },
  );
}
