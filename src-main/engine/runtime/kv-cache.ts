/**
 * The KV cache of one generation, owned by the runtime worker so the cache never
 * crosses threads. Layout per slot: [capacity, batch, n_kv_heads, d_head], position-major,
 * so the cached prefix [0, length) is one contiguous block fed to the graph without a
 * copy. Only the newly computed keys and values come back from each run and are appended
 * here. One slot per block run, so a block that runs twice in a schedule keeps two caches.
 */
import { graphInput } from '../graph-io';
import { EngineError } from '../errors';
import { float32, type TensorMap } from './tensor';

export interface KvCacheShape {
  slots: number;
  batch: number;
  nKvHeads: number;
  dHead: number;
  maxPositions: number;
  /** The model's distinct sliding-window sizes (spec.traits.slidingWindow): one windowed mask each. */
  windows: number[];
}

const INITIAL_CAPACITY = 128;

export class KvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private capacity: number;
  /** Number of cached positions. */
  length = 0;

  constructor(readonly shape: KvCacheShape) {
    this.capacity = Math.min(INITIAL_CAPACITY, shape.maxPositions);
    this.keys = this.allocate(this.capacity);
    this.values = this.allocate(this.capacity);
  }

  /** Floats per cached position: batch * n_kv_heads * d_head. */
  private get rowLength(): number {
    return this.shape.batch * this.shape.nKvHeads * this.shape.dHead;
  }

  private allocate(capacity: number): Float32Array[] {
    return Array.from({ length: this.shape.slots }, () => new Float32Array(capacity * this.rowLength));
  }

  reset(): void {
    this.length = 0;
  }

  /** Make room for `extra` more positions, doubling capacity (bounded by the model's context). */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed > this.shape.maxPositions) {
      throw new EngineError('bad_argument', `context full: ${needed} positions exceed the model's ${this.shape.maxPositions}`);
    }
    if (needed <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    capacity = Math.min(capacity, this.shape.maxPositions);
    const regrow = (old: Float32Array): Float32Array => {
      const grown = new Float32Array(capacity * this.rowLength);
      grown.set(old.subarray(0, this.length * this.rowLength));
      return grown;
    };
    this.keys = this.keys.map(regrow);
    this.values = this.values.map(regrow);
    this.capacity = capacity;
  }

  /** Feeds for a run that adds `seq` positions: the cached prefix of every slot, the causal mask and each windowed mask. */
  feeds(seq: number): TensorMap {
    const { batch, nKvHeads, dHead } = this.shape;
    const dims = [this.length, batch, nKvHeads, dHead];
    const used = this.length * this.rowLength;
    const feeds: TensorMap = {};
    for (let slot = 0; slot < this.shape.slots; slot++) {
      feeds[graphInput.pastKey(slot)] = float32(dims, this.keys[slot].subarray(0, used));
      feeds[graphInput.pastValue(slot)] = float32(dims, this.values[slot].subarray(0, used));
    }
    feeds[graphInput.attentionMask] = float32([seq, this.length + seq], causalMask(this.length, seq));
    for (const window of this.shape.windows) feeds[graphInput.windowMask(window)] = float32([seq, this.length + seq], causalMask(this.length, seq, window));
    return feeds;
  }

  /** Append the run's new keys and values, each [batch, seq, n_kv_heads * d_head]. */
  append(slot: number, newKeys: Float32Array, newValues: Float32Array, seq: number): void {
    this.write(this.keys[slot], newKeys, seq);
    this.write(this.values[slot], newValues, seq);
  }

  private write(cache: Float32Array, fresh: Float32Array, seq: number): void {
    const { batch } = this.shape;
    const perBatchRow = this.rowLength / batch; // n_kv_heads * d_head
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < seq; s++) {
        const from = (b * seq + s) * perBatchRow;
        cache.set(fresh.subarray(from, from + perBatchRow), (this.length + s) * this.rowLength + b * perBatchRow);
      }
    }
  }

  /**
   * Start from the first `length` positions of batch row `row` of `source`, copied into
   * every batch row of this (empty) cache: a run that shares a prefix with an earlier run
   * feeds only the tokens after it (activation patching, analysis/patching.ts). Slot s
   * reads the source's slot firstSlot + s: a run whose schedule starts at a later block.
   */
  seedFrom(source: KvCache, row: number, length: number, firstSlot = 0): void {
    const [a, b] = [this.shape, source.shape];
    if (firstSlot < 0 || firstSlot + a.slots > b.slots || a.nKvHeads !== b.nKvHeads || a.dHead !== b.dHead || a.windows.join() !== b.windows.join()) {
      throw new EngineError('bad_argument', `KV prefix: the source cache holds ${b.slots} slots of ${b.nKvHeads}x${b.dHead}, this one ${a.slots} of ${a.nKvHeads}x${a.dHead} from slot ${firstSlot}`);
    }
    if (this.length !== 0) throw new EngineError('bad_argument', 'KV prefix: the cache already holds positions');
    if (!Number.isInteger(row) || row < 0 || row >= b.batch) throw new EngineError('bad_argument', `KV prefix: row ${row} is outside the source's ${b.batch} rows`);
    if (!Number.isInteger(length) || length < 0 || length > source.length) throw new EngineError('bad_argument', `KV prefix: ${length} positions asked, the source holds ${source.length}`);
    this.reserve(length);
    const perBatchRow = this.rowLength / a.batch; // n_kv_heads * d_head
    const copy = (to: Float32Array, from: Float32Array): void => {
      for (let s = 0; s < length; s++) {
        const position = from.subarray(s * source.rowLength + row * perBatchRow, s * source.rowLength + (row + 1) * perBatchRow);
        for (let r = 0; r < a.batch; r++) to.set(position, s * this.rowLength + r * perBatchRow);
      }
    };
    for (let slot = 0; slot < a.slots; slot++) {
      copy(this.keys[slot], source.keys[firstSlot + slot]);
      copy(this.values[slot], source.values[firstSlot + slot]);
    }
    this.length = length;
  }

  /** Called once every slot of a run has been appended. */
  advance(seq: number): void {
    this.length += seq;
  }
}

/**
 * [seq, past + seq]: query s, at absolute position i = past + s, sees keys 0..i; with a
 * sliding window W only keys j with i - W < j <= i, i.e. the last W positions counting
 * itself. That is transformers' rule (masking_utils.py: sliding_window_overlay is
 * `kv_idx > q_idx - sliding_window`, and-ed with the causal `kv_idx <= q_idx`; Gemma 2's
 * older mask, `tril(ones, diagonal=-sliding_window)` set to -inf, hides the same keys).
 * The cache keeps every position, so a window is only this mask: cached decoding sees what
 * recomputing the whole prefix sees.
 */
export function causalMask(past: number, seq: number, window = Infinity): Float32Array {
  const total = past + seq;
  const mask = new Float32Array(seq * total);
  for (let s = 0; s < seq; s++) {
    const i = past + s;
    mask.fill(-Infinity, s * total + i + 1, (s + 1) * total);
    if (i - window >= 0) mask.fill(-Infinity, s * total, s * total + i - window + 1);
  }
  return mask;
}
