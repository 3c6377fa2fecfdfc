/**
 * The values of a plan, fed to its compiled graph (graph/taps.ts lists the inputs).
 * Each batch row is one variant with its own plan of the same structure, so every
 * parameter input has a leading batch dim and the rows are stacked here.
 */
import { graphInput } from '../graph-io';
import { EngineError } from '../errors';
import type { LensHead, TapSpec } from '../graph/taps';
import { hookInfo, isAttentionGrid, type HookInfo } from '../hooks/names';
import { factorRows, type Intervention, type Plan } from '../hooks/plan';
import { isSelected, positionMask, type RunPositions } from '../hooks/positions';
import type { ModelSpec } from '../model/spec';
import { float32, type TensorMap } from '../runtime/tensor';

/** The activations a patch writes at an absolute position of a run (a source run, or rows given in the plan); null leaves it. */
export type PatchRows = (position: number, run: RunPositions) => Float32Array | null;

/**
 * One batch row: a validated plan, the rows of its patches (by intervention index), and
 * lens fusion weights. Rows of a batch share one plan whose interventions are the union
 * of the variants'; `active` names the ones this row applies (all when absent).
 */
export interface RowPlan {
  plan: Plan;
  active?: ReadonlySet<number>;
  patches: Map<number, PatchRows>;
  /** Per lens head with `fuse`: lambda. */
  lensLambdas?: Map<string, number>;
}

/** Width of one position's row at a hook: every dim but pos, flattened. */
function rowWidth(info: HookInfo): number {
  return info.shape.reduce<number>((product, size) => (size === 'pos' ? product : product * size), 1);
}

/** Columns set/scale index `index` addresses in a flattened row: a whole head, or one neuron or dim. */
function columns(info: HookInfo, spec: ModelSpec, index: number): [number, number] {
  if (isAttentionGrid(info.site)) return [index, index + 1]; // fed per head: [n_kv_heads, group] flattened
  return info.indexUnit === 'head' ? [index * spec.dHead, (index + 1) * spec.dHead] : [index, index + 1];
}

/**
 * Rows from the plan's own values: row j goes to the j-th position the selector selects.
 * Explicit positions take their rows in listed order; "last" its one row at the last
 * token each run feeds; "all" and "prompt" row p at position p; "generated" row j at the
 * j-th generated position. A position past the rows stays unpatched (generation cannot
 * know its length in advance; a single run checks the count, hooks/plan.ts validateRunPositions).
 */
export function patchRowsFromValues(step: Extract<Intervention, { op: 'patch' }>): PatchRows {
  if (!('values' in step.source)) throw new Error('patch source is a prompt: run it first');
  const rows = step.source.values.map((row) => Float32Array.from(row));
  const selector = step.positions;
  if (Array.isArray(selector)) {
    const byPosition = new Map(selector.map((position, j) => [position, rows[j]]));
    return (position) => byPosition.get(position) ?? null;
  }
  switch (selector) {
    case 'last':
      return () => rows[0];
    case 'generated':
      return (position, run) => rows[position - run.promptLength] ?? null;
    case 'all':
    case 'prompt':
      return (position) => rows[position] ?? null;
  }
}

/**
 * The plan inputs that stay the same at every feed of a batch: add's deltas, set's and
 * scale's per-index values, weight_delta's factors, lens fusion weights. A batch sends
 * them to the inference worker once (KvCacheHandle.setConstantFeeds), not at every step.
 */
export function constantPlanFeeds(spec: ModelSpec, tapSpec: TapSpec, rows: RowPlan[]): TensorMap {
  return planFeeds(spec, tapSpec, rows, null);
}

/** The plan inputs of one feed over `run`: position masks and patched rows. */
export function stepPlanFeeds(spec: ModelSpec, tapSpec: TapSpec, rows: RowPlan[], run: RunPositions): TensorMap {
  return planFeeds(spec, tapSpec, rows, run);
}

/** With a run: the inputs that depend on its positions; without one: the constant rest. */
function planFeeds(spec: ModelSpec, tapSpec: TapSpec, rows: RowPlan[], run: RunPositions | null): TensorMap {
  const batch = rows.length;
  const feeds: TensorMap = {};
  const stack = (name: string, dims: number[], fill: (row: RowPlan, out: Float32Array) => void): void => {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(batch * size);
    rows.forEach((row, b) => fill(row, data.subarray(b * size, (b + 1) * size)));
    feeds[name] = float32([batch, ...dims], data);
  };
  const constant = (name: string, dims: number[], fill: (row: RowPlan, out: Float32Array) => void): void => {
    if (run === null) stack(name, dims, fill);
  };
  const perStep = (name: string, dims: (run: RunPositions) => number[], fill: (row: RowPlan, out: Float32Array, run: RunPositions) => void): void => {
    if (run !== null) stack(name, dims(run), (row, out) => fill(row, out, run));
  };

  for (const { op, hook, index } of tapSpec.interventions) {
    const name = (part: string): string => graphInput.intervention(index, part);
    const stepOf = (row: RowPlan): Intervention => row.plan.interventions[index];
    const applies = (row: RowPlan): boolean => !row.active || row.active.has(index);
    const info = hookInfo(spec, hook);
    const isGrid = isAttentionGrid(info.site);
    const width = isGrid ? spec.nHeads : rowWidth(info);
    const perIndexDims = isGrid ? [spec.nKvHeads, spec.nHeads / spec.nKvHeads, 1, 1] : [1, width];
    const maskDims = (run: RunPositions) => (isGrid ? [1, 1, run.count, 1] : [run.count, 1]);
    const positions = (row: RowPlan) => (stepOf(row) as { positions: Plan['captures'][number]['positions'] }).positions;

    if (op === 'patch') {
      // Positions the source has no row for stay as they are.
      perStep(name('mask'), (run) => [run.count, 1], (row, out, run) => {
        const rowsAt = row.patches.get(index);
        if (!applies(row) || !rowsAt) return;
        for (let i = 0; i < run.count; i++) out[i] = isSelected(positions(row), run.start + i, run) && rowsAt(run.start + i, run) ? 1 : 0;
      });
      perStep(name('values'), (run) => [run.count, width], (row, out, run) => {
        const rowsAt = row.patches.get(index);
        if (!applies(row) || !rowsAt) return;
        for (let i = 0; i < run.count; i++) {
          const values = rowsAt(run.start + i, run);
          if (values && values.length !== width) throw new EngineError('bad_plan', `interventions[${index}]: patch rows have ${values.length} values; ${hook} needs ${width}`);
          if (values) out.set(values, i * width);
        }
      });
      continue;
    }
    perStep(name('mask'), maskDims, (row, out, run) => applies(row) && out.set(positionMask(positions(row), run)));
    if (op === 'add') {
      constant(name('delta'), perIndexDims, (row, out) => {
        const step = stepOf(row) as Extract<Intervention, { op: 'add' }>;
        // A d_head vector at a head site is added to every head.
        for (let c = 0; c < width; c++) out[c] = step.scale * step.vector[c % step.vector.length];
      });
      continue;
    }
    // set / scale: per-index values, one for all indices when a single value is given.
    const perIndex = (row: RowPlan, write: (from: number, to: number, value: number) => void): void => {
      const step = stepOf(row) as Extract<Intervention, { op: 'set' | 'scale' }>;
      step.indices.forEach((at, j) => {
        const [from, to] = columns(info, spec, at);
        write(from, to, step.values.length === 1 ? step.values[0] : step.values[j]);
      });
    };
    if (op === 'set') {
      constant(name('select'), perIndexDims, (row, out) => perIndex(row, (from, to) => out.fill(1, from, to)));
      constant(name('values'), perIndexDims, (row, out) => perIndex(row, (from, to, value) => out.fill(value, from, to)));
    } else {
      constant(name('factor'), perIndexDims, (row, out) => perIndex(row, (from, to, value) => out.fill(value - 1, from, to)));
    }
  }

  // Weight-delta factors are constant: a step builds none of them.
  for (const { index } of run === null ? tapSpec.deltas : []) {
    const name = (part: string): string => graphInput.intervention(index, part);
    const stepOf = (row: RowPlan) => row.plan.interventions[index] as Extract<Intervention, { op: 'weight_delta' }>;
    const u0 = factorRows(stepOf(rows[0]).u);
    const v0 = factorRows(stepOf(rows[0]).v);
    const [rank, outFeatures, inFeatures] = [u0.length, u0[0].length, v0[0].length];
    // v is fed transposed, [in, rank], so x [.., in] @ v gives the rank coordinates directly.
    constant(name('v'), [inFeatures, rank], (row, out) => {
      factorRows(stepOf(row).v).forEach((vk, k) => vk.forEach((value, i) => (out[i * rank + k] = value)));
    });
    // A row that does not apply the edit gets u = 0: the weight as it is.
    constant(name('u'), [rank, outFeatures], (row, out) => {
      if (!row.active || row.active.has(index)) factorRows(stepOf(row).u).forEach((uk, k) => out.set(uk, k * outFeatures));
    });
  }

  for (const lens of tapSpec.lenses.filter((head: LensHead) => head.fuse)) {
    // A row whose strategy does not read this head feeds 0; its output is then unused.
    constant(`${lens.name}.lambda`, [1, 1], (row, out) => (out[0] = row.lensLambdas?.get(lens.name) ?? 0));
  }
  return feeds;
}
