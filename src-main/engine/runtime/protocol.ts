/** Messages between the runtime client (runtime.ts) and the inference worker (ort-worker.ts). */
import type { SerializedError } from '../errors';
import type { KvCacheShape } from './kv-cache';
import type { TensorMap } from './tensor';

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface SessionOptions {
  executionProvider: ExecutionProvider;
  /** Intra-op threads; always set explicitly (unset, ORT pins its pool to one core per session). */
  threads: number;
  /**
   * Whether idle intra-op threads spin waiting for work. Spinning is a little faster on an
   * idle machine (5-7%) but 2-3x slower when another process wants the same cores, as the
   * app's own window does while tokens stream in (ORT-NOTES.md).
   */
  spinning: boolean;
}

export interface SessionInfo {
  sessionId: number;
  inputNames: string[];
  outputNames: string[];
  /** The provider the session actually runs on. */
  provider: ExecutionProvider;
  /** Why the requested provider was not used, or null when it was. */
  fallbackReason: string | null;
}

/** Each worker method: its request and its result. */
export interface WorkerMethods {
  createSession: { request: { modelPath: string; options: SessionOptions }; result: SessionInfo };
  run: { request: { sessionId: number; feeds: TensorMap; fetches: string[]; cacheId?: number }; result: { outputs: TensorMap; runMs: number } };
  releaseSession: { request: { sessionId: number }; result: null };
  createCache: { request: { shape: KvCacheShape }; result: { cacheId: number } };
  resetCache: { request: { cacheId: number }; result: null };
  /** Fill an empty cache's every row with the first `length` positions of row `row` of cache `sourceId`, its slots from `firstSlot` (KvCache.seedFrom). */
  seedCache: { request: { cacheId: number; sourceId: number; row: number; length: number; firstSlot: number }; result: null };
  /** Feeds every later run on the cache gets as well (a batch's constant plan inputs), kept in the worker until the cache is released. */
  setConstantFeeds: { request: { cacheId: number; feeds: TensorMap }; result: null };
  releaseCache: { request: { cacheId: number }; result: null };
}

export type WorkerMethod = keyof WorkerMethods;

export type WorkerRequest = { [M in WorkerMethod]: { id: number; method: M; params: WorkerMethods[M]['request'] } }[WorkerMethod];

export type WorkerResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError };
