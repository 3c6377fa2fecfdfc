/**
 * Activation patching sweeps (METHODS.md 6.2). Two prompts, clean and corrupted, of one
 * length or with their positions paired (alignment.ts), and two answer tokens. Denoising runs the corrupted prompt and restores one
 * site from the clean run (is the activation sufficient?); noising runs the clean prompt
 * and writes in the corrupted activation (is it necessary?).
 *
 * The sweep is batched: every cell (layer x position, or layer x head for attn.hook_z)
 * is one batch row of a plan holding a values-patch at each swept layer; a row turns on
 * only its layer's patch and feeds only its cell's rows (plan/feeds.ts), so a pass runs
 * `batchSize` cells. Both baseline runs, which also supply the patched values, are one
 * pass of two rows.
 *
 * Only what differs from the base run is computed (sweep-passes.ts): the base run's KV
 * cache is kept, and a pass starts after the base prompt's positions before its cells'
 * first patched one (ModelHandle.runRows `after`), and skips the blocks below its cells'
 * segment, whose input it restores from the base run. The metric reads the last position
 * only, so nothing else of the skipped work is needed. For a full one-position sweep that
 * is about half the positions and two thirds of the blocks of one full pass per cell.
 *
 * Metrics, at the last prompt position, as M (higher = more like the clean run):
 *   logit_diff   z(answer) - z(wrong)
 *   prob         p(answer)
 *   kl           -KL(p_clean || p)          (the cell's value is reported as KL itself)
 * Normalised effect, with M_c and M_r the clean and corrupted runs' M:
 *   denoising    (M_patched - M_r) / (M_c - M_r)     0 = no effect, 1 = full recovery
 *   noising      (M_patched - M_c) / (M_c - M_r)     0 = no effect, -1 = fully broken
 */
import { graphOutput } from '../graph-io';
import type { KeptRun, ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { hookName } from '../hooks/names';
import { validatePlan, type Plan } from '../hooks/plan';
import { shapeCapture } from '../plan/captures';
import type { PatchRows, RowPlan } from '../plan/feeds';
import type { RowsRunResult } from '../plan/batch';

import { requestError, throwIfCancelled, type AnalysisControl } from './control';
import { segmentStarts, sweepPasses, type SweepCell } from './sweep-passes';
import { klDivergence, logitStats, logProbs } from './distribution';
import { SITE_HOOK } from './sites';
import { alignPositions } from './alignment';
import { outsideRange } from '../../../src-shared/issues';
import { patchRequestSchema, type PatchRequestInput, type PatchResult, type RunSummary } from '../../../src-shared/analysis-schema';

/** Below this |M_c - M_r| the runs do not differ and the normalised effect is 0. */
const SAME_RUNS = 1e-6;

interface Cell extends SweepCell {
  column: number;
}

export interface SweepOptions {
  /**
   * Skip the work the base run has done (default true): its unpatched prefix and the
   * blocks below each cell's segment (sweep-passes.ts). Off, every cell runs the whole
   * base prompt through every block: the one-pass-per-patch benchmark baseline, and the
   * reference the reuse is tested against.
   */
  reuseBaseRun?: boolean;
}

export async function patchingSweep(model: ModelHandle, input: PatchRequestInput, control: AnalysisControl = {}, options: SweepOptions = {}): Promise<PatchResult> {
  const parsed = patchRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('patch', parsed.error.issues);
  const request = parsed.data;
  const { spec } = model;
  const { clean, corrupted, answer, wrong, site } = request;
  const pairs = alignPositions(clean.length, corrupted.length, request.alignment);
  for (const [name, id] of [['answer', answer], ['wrong', wrong]] as const) {
    if (id >= spec.dVocab) throw requestError('patch', [{ path: [name], message: outsideRange('token', id, spec.dVocab) }]);
  }
  const perHead = site === 'z';
  const positionMode = perHead ? 'all' : request.positions;
  const denoising = request.direction === 'denoising';
  // Pairs as (base run position, source run position): denoising runs the corrupted prompt and reads the clean one.
  const sourceOfBase = new Map(pairs.map(([c, r]) => (denoising ? [r, c] : [c, r])));
  const layers = Array.from({ length: spec.nLayers }, (_, layer) => layer);
  // A position column is named by its source position (the prompt whose activation goes in).
  const columns = perHead ? Array.from({ length: spec.nHeads }, (_, head) => head) : positionMode === 'each' ? pairs.map(([c, r]) => (denoising ? c : r)) : [0];
  const baseOfColumn = new Map(pairs.map(([c, r]) => (denoising ? [c, r] : [r, c])));
  const hooks = layers.map((layer) => SITE_HOOK[site](layer));
  const reuseBaseRun = options.reuseBaseRun ?? true;
  const starts = reuseBaseRun ? segmentStarts(spec.nLayers) : null;
  // A later segment's first block takes the base run's input (resid_pre) at every fed position.
  const inputs = (starts ?? []).filter((first) => first > 0).map((first) => hookName.residPre(first));

  // Baselines, capturing the site at every layer and the segments' inputs: both prompts as two rows of one pass, or a pass each
  // when their lengths differ. The base prompt's run keeps its KV cache for the sweep's passes to start after.
  throwIfCancelled(control.signal, 'patching sweep');
  const capturePlan = validatePlan(spec, { captures: [...new Set([...hooks, ...inputs])].map((hook) => ({ hook, positions: 'all' })) });
  const row = { plan: capturePlan, patches: new Map() };
  const basePrompt = denoising ? 1 : 0;
  const baselines: RowsRunResult[] = [];
  let prefix: { run: KeptRun; row: number } | null = null;
  try {
    for (const prompts of clean.length === corrupted.length ? [[0, 1]] : [[0], [1]]) {
      const { result, kept } = await model.runRowsKept(capturePlan, prompts.map(() => row), prompts.map((prompt) => [clean, corrupted][prompt]));
      baselines.push(result);
      if (reuseBaseRun && prompts.includes(basePrompt)) prefix = { run: kept, row: prompts.indexOf(basePrompt) };
      else await kept.release();
    }
    return await sweep(prefix);
  } finally {
    await prefix?.run.release();
  }

  async function sweep(prefix: { run: KeptRun; row: number } | null): Promise<PatchResult> {
    const runOf = (prompt: number) => (baselines.length === 1 ? { result: baselines[0], row: prompt } : { result: baselines[prompt], row: 0 });
    /** [positions x width] of prompt 0 (clean) or 1 (corrupted) at a hook. */
    const activations = (prompt: number, hook: string): Float32Array => {
      const { result, row: at } = runOf(prompt);
      return shapeCapture(spec, hook, result.outputs[graphOutput.capture(hook)], at, 'all', result.run).data;
    };
    const [cleanLogits, corruptedLogits] = [runOf(0), runOf(1)].map(({ result, row: at }) => result.logits[at][0]);
    const cleanLogProbs = logProbs(cleanLogits);
    const measure = (logits: Float32Array): { m: number; summary: RunSummary } => {
      const stats = logitStats(logits);
      const logitDiff = logits[answer] - logits[wrong];
      const answerProb = Math.exp(logits[answer] - stats.logSumExp);
      const kl = klDivergence(cleanLogProbs, logits);
      const value = request.metric === 'logit_diff' ? logitDiff : request.metric === 'prob' ? answerProb : kl;
      return { m: request.metric === 'kl' ? -kl : value, summary: { value, logitDiff, answerProb } };
    };
    const cleanRun = measure(cleanLogits);
    const corruptedRun = measure(corruptedLogits);
    const denominator = cleanRun.m - corruptedRun.m;
    if (!Number.isFinite(denominator)) throw new EngineError('runtime_error', `patching: the baseline ${request.metric} is not finite (clean ${cleanRun.summary.value}, corrupted ${corruptedRun.summary.value})`);
    const warnings: string[] = [];
    if (Math.abs(denominator) < SAME_RUNS) warnings.push(`the clean and corrupted runs give the same ${request.metric} (${cleanRun.summary.value}), so there is nothing to restore: every normalised effect is 0`);
    const [baseRow, sourceRow] = denoising ? [1, 0] : [0, 1];
    const baseIds = denoising ? corrupted : clean;
    const baseM = denoising ? corruptedRun.m : cleanRun.m;

    // The sweep plan of each segment: a values-patch at each layer's hook, rows switching one on at a time; from a later first
    // block, a schedule skipping the blocks below it and a patch restoring its input (the site's own patch there for resid_pre).
    const width = (hook: string): number => activations(0, hook).length / clean.length;
    const patchOf = (hook: string) => ({ op: 'patch', hook, positions: 'all', source: { values: [new Array<number>(width(hook)).fill(0)] } });
    const inputIndex = (first: number): number | null => (first === 0 ? null : site === 'resid_pre' ? first : hooks.length);
    const plans = new Map<number, Plan>();
    const planOf = (first: number): Plan => {
      const skipping = first === 0 ? [] : [...(site === 'resid_pre' ? [] : [patchOf(hookName.residPre(first))]), { op: 'schedule', blocks: layers.slice(first) }];
      const plan = plans.get(first) ?? validatePlan(spec, { interventions: [...hooks.map(patchOf), ...skipping] });
      plans.set(first, plan);
      return plan;
    };
    const rowFor = (cell: Cell, first: number): RowPlan => {
      const patches = new Map([[cell.layer, patchFor(cell)]]);
      const input = inputIndex(first);
      if (input !== null) {
        const base = activations(baseRow, hookName.residPre(first));
        const restore = (p: number): Float32Array => base.subarray(p * spec.dModel, (p + 1) * spec.dModel);
        const own = patches.get(input);
        patches.set(input, own ? (p, run) => own(p, run) ?? restore(p) : restore);
      }
      return { plan: planOf(first), active: new Set(patches.keys()), patches };
    };
    const patchFor = ({ layer, column }: Cell): PatchRows => {
      const hook = hooks[layer];
      const source = activations(sourceRow, hook);
      const w = width(hook);
      const rowAt = (p: number): Float32Array => source.subarray(p * w, (p + 1) * w);
      // Base position p takes the source activation at its paired position; unpaired positions are left alone.
      const paired = (p: number): Float32Array | null => {
        const from = sourceOfBase.get(p);
        return from === undefined ? null : rowAt(from);
      };
      let patch: PatchRows;
      if (perHead) {
        // The base run's z with one head's slice from the source run: the other heads stay as they are.
        const base = activations(baseRow, hook);
        const from = column * spec.dHead;
        patch = (p) => {
          const source = paired(p);
          if (!source) return null;
          const row = base.slice(p * w, (p + 1) * w);
          row.set(source.subarray(from, from + spec.dHead), from);
          return row;
        };
      } else if (positionMode === 'each') {
        const at = baseOfColumn.get(column);
        patch = (p) => (p === at ? paired(p) : null);
      } else {
        patch = paired;
      }
      return patch;
    };

    // A position column patches its one paired base position; the other modes every paired one, from the first.
    const firstPatched = (column: number): number => (!perHead && positionMode === 'each' ? (baseOfColumn.get(column) ?? 0) : Math.min(...sourceOfBase.keys()));
    const cells: Cell[] = layers.flatMap((layer) => columns.map((column) => ({ layer, column, start: firstPatched(column) })));
    const effect = layers.map(() => new Array<number>(columns.length).fill(0));
    const value = layers.map(() => new Array<number>(columns.length).fill(0));
    const passes = sweepPasses(cells, request.batchSize, prefix ? starts : null);
    let blockPositions = 0;
    for (const [pass, { first, start, cells: batch }] of passes.entries()) {
      throwIfCancelled(control.signal, 'patching sweep');
      const after = prefix && start > 0 ? { after: { run: prefix.run, row: prefix.row, length: start, firstSlot: first } } : {};
      const { logits } = await model.runRows(planOf(first), batch.map((cell) => rowFor(cell, first)), batch.map(() => baseIds.slice(start)), after);
      blockPositions += batch.length * (baseIds.length - start) * (spec.nLayers - first);
      batch.forEach((cell, r) => {
        const { m, summary } = measure(logits[r][0]);
        const column = columns.indexOf(cell.column);
        value[cell.layer][column] = summary.value;
        effect[cell.layer][column] = Math.abs(denominator) < SAME_RUNS ? 0 : (m - baseM) / denominator;
      });
      control.onProgress?.({ done: pass + 1, total: passes.length, unit: 'forward passes' });
    }
    return {
      request,
      layers,
      columnKind: perHead ? 'head' : positionMode === 'each' ? 'position' : 'all_positions',
      columns,
      effect,
      value,
      clean: cleanRun.summary,
      corrupted: corruptedRun.summary,
      forwardPasses: baselines.length + passes.length,
      cells: cells.length,
      blockPositions,
      warnings,
    };
  }
}
