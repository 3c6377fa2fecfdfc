/**
 * What every line chart of the app shares: data given as {x, y} points (no parsing), no
 * animation, sized by its container, the tooltip following the nearest x, and the
 * legend top right.
 */
import { Chart, type ChartOptions } from 'chart.js';

export type Points = { x: number; y: number }[];

/** A line chart on `canvas` with no data yet; `options` adds the scales and the tooltip title. */
export function lineChart(canvas: HTMLCanvasElement, text: string, options: ChartOptions<'line'>): Chart<'line', Points> {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      ...options,
      plugins: { legend: { position: 'top', align: 'end', labels: { color: text, boxWidth: 12, boxHeight: 2 } }, ...options.plugins },
    },
  });
}

/** A linear axis titled `title`, in the theme's muted text and border colours. */
export function linearAxis(title: string, colors: { text: string; grid: string }) {
  return { type: 'linear', title: { display: true, text: title, color: colors.text }, ticks: { color: colors.text }, grid: { color: colors.grid } } as const;
}
