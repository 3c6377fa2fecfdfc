/**
 * Which colour of the theme's series (--series-0..7 in app.css) a variant gets, so the
 * list, its compare column and its chart line agree. The baseline alone gets series 0
 * (grey); the others cycle through the 7 colours, and past them the chart tells the
 * second lap apart with a dash pattern.
 */
export const SERIES_COLORS = 8;

export function seriesIndex(variantIndex: number): number {
  return variantIndex === 0 ? 0 : ((variantIndex - 1) % (SERIES_COLORS - 1)) + 1;
}

/** The chart line's dash pattern: the baseline dashed, later laps of the colours dotted. */
export function seriesDash(variantIndex: number): number[] {
  if (variantIndex === 0) return [4, 3];
  return Math.floor((variantIndex - 1) / (SERIES_COLORS - 1)) === 0 ? [] : [1, 3];
}

/** The theme's colours for a chart drawn in `element`: the series, the axis text and the grid (read live, so a theme change is seen). */
export function chartPalette(element: Element): { series: string[]; text: string; grid: string } {
  const style = getComputedStyle(element);
  const read = (name: string) => style.getPropertyValue(name).trim();
  return { series: Array.from({ length: SERIES_COLORS }, (_, i) => read(`--series-${i}`)), text: read('--muted'), grid: read('--border') };
}
