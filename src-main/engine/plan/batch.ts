/**
 * Rows of one compiled plan advancing together over one KV cache: the one batched
 * forward loop. Generation (plan/variants.ts, and ModelHandle.generate through it), plan
 * runs and the analyses all feed through PlanBatch.feed.
 */
import { graphInput, graphOutput } from '../graph-io';
import type { Plan } from '../hooks/plan';
import type { RunPositions } from '../hooks/positions';
import type { ModelSpec } from '../model/spec';
import type { KvCacheHandle } from '../runtime/runtime';
import { int64, type TensorMap } from '../runtime/tensor';
import { shapeCapture, type CaptureResult } from './captures';
import type { Lease } from './compile';
import { constantPlanFeeds, stepPlanFeeds, type RowPlan } from './feeds';

/** What runRows returns: logits[row][i] at the i-th requested position, and the fetched outputs. */
export interface RowsRunResult {
  logits: Float32Array[][];
  outputs: TensorMap;
  run: RunPositions;
}

/** Rows `row` of a [batch, n, width] tensor, as n arrays. */
export function rowsOf(data: Float32Array, row: number, n: number, width: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => data.slice((row * n + i) * width, (row * n + i + 1) * width));
}

/**
 * The sequence length past which LongRoPE (Phi-3) rotates every position by its long
 * factors instead of its short ones (graph/forward.ts); null for other rotary kinds.
 */
const longropeSwitch = (spec: ModelSpec): number | null => (spec.ropeScaling?.type === 'longrope' ? spec.ropeScaling.originalMaxPositions : null);

/**
 * Rows of one compiled plan advancing together over one KV cache. All rows are fed the
 * same number of tokens at the same positions, so one causal mask serves them all.
 */
export class PlanBatch {
  private length = 0; // positions in the cache
  /** LongRoPE only: the tokens of each row fed while the sequence is short, to recompute them when it grows long. */
  private shortPrefix: number[][] = [];
  /** LongRoPE only: whether the cached keys were rotated by the long factors (the sequence has been long). */
  private longKeys = false;
  /** The constant plan inputs sent to the worker (on the first feed): they stay with the cache for every feed. */
  private constantsSent: Promise<null> | null = null;

  constructor(
    private readonly spec: ModelSpec,
    private readonly lease: Lease,
    private readonly cache: KvCacheHandle,
    private readonly rows: RowPlan[],
  ) {}

  reset(): void {
    this.length = 0;
    this.shortPrefix = [];
    this.longKeys = false;
    void this.cache.reset(); // ordered before any later run by the worker's queue
  }

  /**
   * Start every row of this (empty) batch after the first `length` positions of row `row`
   * of `source`, a batch of the same model whose cache is still held: its keys and values
   * are copied in the worker (this batch's slot s from the source's firstSlot + s), and the
   * next feed starts at position `length`. Exact when this batch's rows would have
   * computed those positions as the source row did.
   */
  async startAfter(source: PlanBatch, row: number, length: number, firstSlot = 0): Promise<void> {
    await this.cache.seedFrom(source.cache, row, length, firstSlot);
    this.length = length;
    this.longKeys = source.longKeys;
    this.shortPrefix = source.longKeys ? [] : this.rows.map(() => source.shortPrefix[row]?.slice(0, length) ?? []);
  }

  /**
   * Feed `ids` (one list per row, equal lengths) after the cached positions. `promptLength`
   * tells the plan which positions are prompt and which generated. Returns logits rows
   * per batch row at `logitsAt` (indices into the fed tokens), and the fetched outputs.
   */
  async feed(ids: number[][], promptLength: number, logitsAt: number[], fetches: string[]): Promise<{ logits: Float32Array[][]; outputs: TensorMap; run: RunPositions }> {
    const seq = ids[0].length;
    const switchAt = longropeSwitch(this.spec);
    if (switchAt !== null && this.length + seq <= switchAt) this.shortPrefix = ids.map((row, r) => [...(this.shortPrefix[r] ?? []), ...row]);
    else if (switchAt !== null && this.length > 0 && !this.longKeys) {
      // The cached keys were rotated by the short factors and this feed makes the sequence long:
      // recompute it all from an empty cache, as transformers' Phi3ForCausalLM drops its cache here.
      const prefix = this.shortPrefix;
      this.reset();
      return this.feed(ids.map((row, r) => [...prefix[r], ...row]), promptLength, logitsAt.map((at) => at + prefix[0].length), fetches);
    }
    const run: RunPositions = { start: this.length, count: seq, promptLength };
    const { compiled } = this.lease;
    const positions = ids[0].map((_, i) => run.start + i);
    const feeds: TensorMap = {
      [graphInput.inputIds]: int64([ids.length, seq], ids.flat()),
      [graphInput.positionIds]: int64([ids.length, seq], ids.flatMap(() => positions)),
      [graphInput.logitsPositions]: int64([logitsAt.length], logitsAt),
      ...stepPlanFeeds(this.spec, compiled.tapSpec, this.rows, run),
    };
    // The plan's constant inputs go to the worker once per batch and stay with its cache.
    this.constantsSent ??= this.sendConstants(constantPlanFeeds(this.spec, compiled.tapSpec, this.rows));
    await this.constantsSent;
    const captureNames = compiled.tapSpec.captures.map(graphOutput.capture);
    const { outputs } = await compiled.session.run(feeds, [graphOutput.logits, ...fetches, ...captureNames], this.cache);
    this.length += seq;
    this.longKeys = switchAt !== null && this.length > switchAt;
    const data = outputs[graphOutput.logits].data as Float32Array;
    const logits = ids.map((_, row) => rowsOf(data, row, logitsAt.length, this.spec.dVocab));
    return { logits, outputs, run };
  }

  private async sendConstants(feeds: TensorMap): Promise<null> {
    return Object.keys(feeds).length === 0 ? null : this.cache.setConstantFeeds(feeds);
  }

  /** `plan`'s captures for batch row `row`, from a feed's outputs. */
  captures(plan: Plan, row: number, outputs: TensorMap, run: RunPositions): Record<string, CaptureResult> {
    const captures: Record<string, CaptureResult> = {};
    for (const capture of plan.captures) captures[capture.hook] = shapeCapture(this.spec, capture.hook, outputs[graphOutput.capture(capture.hook)], row, capture.positions, run);
    return captures;
  }

  release(): Promise<void> {
    return this.cache.release().then(() => undefined);
  }
}
