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
 * Prefix reuse: attention is causal, so a cell that first patches base position p leaves
 * every position before p, at every layer, as the base run computed it. The base run's
 * KV cache is kept, cells are ordered by their first patched position, and each pass
 * starts after the base prompt's first positions up to its earliest cell's, feeding only
 * the rest (ModelHandle.runRows `after`): about half the tokens of a one-position sweep.
 * The metric reads the last position only, so nothing else of the prefix is needed.
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
import { validatePlan, type Plan } from '../hooks/plan';
import { shapeCapture } from '../plan/captures';
import type { PatchRows, RowPlan } from '../plan/feeds';
import type { RowsRunResult } from '../plan/batch';

import { chunks, requestError, throwIfCancelled, type AnalysisControl } from './control';
import { klDivergence, logitStats, logProbs } from './distribution';
import { SITE_HOOK } from './sites';
import { alignPositions } from './alignment';
import { patchRequestSchema, type PatchRequestInput, type PatchResult, type RunSummary } from '../../../src-shared/analysis-schema';

/** Below this |M_c - M_r| the runs do not differ and the normalised effect is 0. */
const SAME_RUNS = 1e-6;

interface Cell {
  layer: number;
  column: number;
  /** The first base position the cell patches: positions before it are the base run's. */
  start: number;
}

export interface SweepOptions {
  /**
   * Start each pass after the base run's unpatched prefix (default true). Off, every cell
   * runs the whole base prompt: the one-pass-per-patch benchmark baseline, and the
   * reference the reuse is tested against.
   */
  reusePrefix?: boolean;
}

export async function patchingSweep(model: ModelHandle, input: PatchRequestInput, control: AnalysisControl = {}, options: SweepOptions = {}): Promise<PatchResult> {
  const parsed = patchRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('patch', parsed.error.issues);
  const request = parsed.data;
  const { spec } = model;
  const { clean, corrupted, answer, wrong, site } = request;
  const pairs = alignPositions(clean.length, corrupted.length, request.alignment);
  for (const [name, id] of [['answer', answer], ['wrong', wrong]] as const) {
    if (id >= spec.dVocab) throw requestError('patch', [{ path: [name], message: `token ${id} is outside the vocabulary (0..${spec.dVocab - 1})` }]);
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

  // Baselines, capturing the site at every layer: both prompts as two rows of one pass, or a pass each when their lengths differ.
  // The base prompt's run keeps its KV cache for the sweep's passes to start after.
  throwIfCancelled(control.signal, 'patching sweep');
  const capturePlan = validatePlan(spec, { captures: hooks.map((hook) => ({ hook, positions: 'all' })) });
  const row = { plan: capturePlan, patches: new Map() };
  const basePrompt = denoising ? 1 : 0;
  const reusePrefix = options.reusePrefix ?? true;
  const baselines: RowsRunResult[] = [];
  let prefix: { run: KeptRun; row: number } | null = null;
  try {
    for (const prompts of clean.length === corrupted.length ? [[0, 1]] : [[0], [1]]) {
      const { result, kept } = await model.runRowsKept(capturePlan, prompts.map(() => row), prompts.map((prompt) => [clean, corrupted][prompt]));
      baselines.push(result);
      if (reusePrefix && prompts.includes(basePrompt)) prefix = { run: kept, row: prompts.indexOf(basePrompt) };
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

    // The sweep plan: a values-patch at each layer's hook; rows switch one on at a time.
    const width = (hook: string): number => activations(0, hook).length / clean.length;
    const sweepPlan: Plan = validatePlan(spec, {
      interventions: hooks.map((hook) => ({ op: 'patch', hook, positions: 'all', source: { values: [new Array<number>(width(hook)).fill(0)] } })),
    });
    const rowFor = ({ layer, column }: Cell): RowPlan => {
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
      return { plan: sweepPlan, active: new Set([layer]), patches: new Map([[layer, patch]]) };
    };

    // A position column patches its one paired base position; the other modes every paired one, from the first.
    const firstPatched = (column: number): number => (!perHead && positionMode === 'each' ? (baseOfColumn.get(column) ?? 0) : Math.min(...sourceOfBase.keys()));
    const cells: Cell[] = layers.flatMap((layer) => columns.map((column) => ({ layer, column, start: firstPatched(column) })));
    const effect = layers.map(() => new Array<number>(columns.length).fill(0));
    const value = layers.map(() => new Array<number>(columns.length).fill(0));
    // Ordered by first patched position (stable), so a pass's cells share a long unpatched prefix.
    const passes = chunks(prefix ? [...cells].sort((a, b) => a.start - b.start) : cells, request.batchSize);
    let rowPositions = 0;
    for (const [pass, batch] of passes.entries()) {
      throwIfCancelled(control.signal, 'patching sweep');
      const start = prefix ? Math.min(...batch.map((cell) => cell.start)) : 0;
      const after = prefix && start > 0 ? { after: { run: prefix.run, row: prefix.row, length: start } } : {};
      const { logits } = await model.runRows(sweepPlan, batch.map(rowFor), batch.map(() => baseIds.slice(start)), after);
      rowPositions += batch.length * (baseIds.length - start);
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
      rowPositions,
      warnings,
    };
  }
}
