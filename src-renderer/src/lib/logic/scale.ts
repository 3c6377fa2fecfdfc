/**
 * The steering scale slider: one range input, log-scaled in magnitude and signed, so
 * 0.01 and 100 are both a drag away and negative scales steer the other way.
 *
 *   position p in [-STEPS, STEPS];  |scale| = 10^(MIN + (|p|/STEPS) (MAX - MIN));  p = 0 -> 0
 */
export const SCALE_STEPS = 200;
const MIN_EXP = -2; // 0.01
const MAX_EXP = 2; // 100

export function scaleFromSlider(position: number): number {
  if (position === 0) return 0;
  const fraction = Math.min(1, Math.abs(position) / SCALE_STEPS);
  const magnitude = 10 ** (MIN_EXP + fraction * (MAX_EXP - MIN_EXP));
  return Math.sign(position) * roundSignificant(magnitude, 3);
}

export function sliderFromScale(scale: number): number {
  if (scale === 0 || !Number.isFinite(scale)) return 0;
  const exponent = Math.log10(Math.abs(scale));
  const fraction = (exponent - MIN_EXP) / (MAX_EXP - MIN_EXP);
  const steps = Math.min(SCALE_STEPS, Math.max(1, Math.round(fraction * SCALE_STEPS)));
  return Math.sign(scale) * steps;
}

export function roundSignificant(value: number, digits: number): number {
  if (value === 0) return 0;
  return Number(value.toPrecision(digits));
}
