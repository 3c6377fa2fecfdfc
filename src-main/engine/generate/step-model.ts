/**
 * The model as the generation loop sees it: a causal LM with a KV cache. Keeping the
 * loop behind this interface makes sampling and stopping pure and testable without
 * onnxruntime; the runtime-backed implementation lives elsewhere.
 */
export interface StepModel {
  readonly vocabSize: number;
  /** Context limit: the cache never holds more than this many tokens. */
  readonly maxPositions: number;
  /** Forget the cache. */
  reset(): void;
  /** Feed tokens after the cached ones; resolves to the logits of the last fed position [d_vocab]. */
  feed(ids: readonly number[]): Promise<Float32Array>;
}
