/**
 * Captured graph outputs, laid out as TransformerLens does, for one batch row and the
 * positions the capture selects. Graph layouts: residual-like [batch, seq, width]; heads
 * [batch, seq, heads * d_head]; attention scores and pattern [batch, n_kv_heads, group, seq, key_pos]
 * (head = kv_head * group + g).
 */

import { graphOutput } from '../graph-io';
import { hookInfo, isAttentionGrid } from '../hooks/names';
import type { Plan } from '../hooks/plan';
import { selectedIndices, type RunPositions } from '../hooks/positions';
import type { ModelSpec } from '../model/spec';
import type { HostTensor } from '../runtime/tensor';

export interface CaptureResult {
  /** TransformerLens dim names, e.g. ['pos', 'd_model'] or ['head', 'q_pos', 'k_pos']. */
  dims: string[];
  shape: number[];
  /** Absolute positions of the captured rows (query positions for attention patterns). */
  positions: number[];
  data: Float32Array;
}

/** Fetch names for a plan's captures. */
export function captureFetches(plan: Plan): string[] {
  return [...new Set(plan.captures.map((c) => graphOutput.capture(c.hook)))];
}

export function shapeCapture(spec: ModelSpec, hook: string, tensor: HostTensor, row: number, positions: Plan['captures'][number]['positions'], run: RunPositions): CaptureResult {
  const info = hookInfo(spec, hook);
  const rowSize = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = (tensor.data as Float32Array).subarray(row * rowSize, (row + 1) * rowSize);
  const rows = selectedIndices(positions, run);
  const absolute = rows.map((i) => run.start + i);
  if (isAttentionGrid(info.site)) {
    const keyPositions = tensor.dims[4];
    const out = new Float32Array(spec.nHeads * rows.length * keyPositions);
    for (let head = 0; head < spec.nHeads; head++) {
      rows.forEach((r, j) => {
        const from = (head * run.count + r) * keyPositions;
        out.set(data.subarray(from, from + keyPositions), (head * rows.length + j) * keyPositions);
      });
    }
    return { dims: info.dims, shape: [spec.nHeads, rows.length, keyPositions], positions: absolute, data: out };
  }
  const width = tensor.dims[tensor.dims.length - 1];
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, j) => out.set(data.subarray(r * width, (r + 1) * width), j * width));
  const shape = info.shape.map((d) => (d === 'pos' ? rows.length : d));
  return { dims: info.dims, shape, positions: absolute, data: out };
}
