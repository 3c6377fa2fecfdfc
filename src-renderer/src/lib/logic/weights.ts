/** Weight formats as the UI names and compares them (the engine's model/weight-format.ts decides what they are). */
import type { WeightFormat, WeightOptions } from '../api/types';

export const WEIGHT_FORMAT_NAMES: Record<WeightFormat, string> = { f32: 'float32', int8: 'int8', int4: 'int4' };

/** "float32", or "int8 (block 32)": what a model's weights are stored as. */
export function weightsLabel(weights: WeightOptions | undefined): string {
  if (!weights || weights.format === 'f32') return WEIGHT_FORMAT_NAMES.f32;
  return `${WEIGHT_FORMAT_NAMES[weights.format]} (block ${weights.blockSize}, accuracy level ${weights.accuracyLevel})`;
}

/** Whether two models compute with the same weights; an experiment that records none was made with float32. */
export function sameWeights(a: WeightOptions | undefined, b: WeightOptions | undefined): boolean {
  const formatOf = (w: WeightOptions | undefined) => w?.format ?? 'f32';
  if (formatOf(a) !== formatOf(b)) return false;
  return formatOf(a) === 'f32' || (a?.blockSize === b?.blockSize && a?.accuracyLevel === b?.accuracyLevel);
}
