/**
 * The client side of the inference worker. Everything above runtime/ uses these classes;
 * onnxruntime itself is only imported by ort-worker.ts, inside the worker thread.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EngineError, type SerializedError } from '../errors';
import type { KvCacheShape } from './kv-cache';
import type { ExecutionProvider, SessionInfo, WorkerMethod, WorkerMethods, WorkerResponse } from './protocol';
import type { TensorMap } from './tensor';

function spawnWorker(): Worker {
  // From source (tsx, vitest) the entry is TypeScript and needs tsx's loader; bundled builds ship ort-worker.js.
  if (__filename.endsWith('.ts')) {
    const entry = join(__dirname, 'ort-worker.ts');
    return new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(entry)});`, { eval: true });
  }
  return new Worker(join(__dirname, 'ort-worker.js'));
}

function toEngineError(error: SerializedError): EngineError {
  return new EngineError(error.code === 'internal' ? 'runtime_error' : error.code, error.message, error.details);
}

export interface RuntimeOptions {
  /** Intra-op threads per session; defaults to the number of logical cores. */
  threads?: number;
  /** Idle intra-op threads spin (default true); see SessionOptions.spinning. */
  spinning?: boolean;
}

export class Runtime {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextRequestId = 1;
  private stopped: Error | null = null;
  readonly threads: number;
  private readonly spinning: boolean;

  constructor(options: RuntimeOptions = {}) {
    this.threads = options.threads ?? availableParallelism();
    this.spinning = options.spinning ?? true;
    this.worker = spawnWorker();
    this.worker.unref(); // an idle runtime never keeps the process alive
    this.worker.on('message', (response: WorkerResponse) => this.settle(response));
    this.worker.on('error', (error) => this.fail(new EngineError('runtime_error', `inference worker failed: ${error.message}`)));
    this.worker.on('exit', (code) => this.fail(new EngineError('runtime_error', `inference worker exited (code ${code})`)));
  }

  private settle(response: WorkerResponse): void {
    const waiter = this.pending.get(response.id);
    if (!waiter) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) this.worker.unref();
    if (response.ok) waiter.resolve(response.result);
    else waiter.reject(toEngineError(response.error));
  }

  private fail(error: Error): void {
    this.stopped ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  call<M extends WorkerMethod>(method: M, params: WorkerMethods[M]['request']): Promise<WorkerMethods[M]['result']> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextRequestId++;
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, method, params });
    });
  }

  async createSession(modelPath: string, executionProvider: ExecutionProvider = 'cpu'): Promise<Session> {
    const info = await this.call('createSession', { modelPath, options: { executionProvider, threads: this.threads, spinning: this.spinning } });
    return new Session(this, info);
  }

  async createKvCache(shape: KvCacheShape): Promise<KvCacheHandle> {
    const { cacheId } = await this.call('createCache', { shape });
    return new KvCacheHandle(this, cacheId, shape);
  }

  async close(): Promise<void> {
    this.fail(new EngineError('runtime_error', 'runtime closed'));
    await this.worker.terminate();
  }
}

export class Session {
  constructor(
    private readonly runtime: Runtime,
    readonly info: SessionInfo,
  ) {}

  get provider(): ExecutionProvider {
    return this.info.provider;
  }

  /** Run with `feeds`, returning only `fetches`; with a cache, past keys/values are fed and extended in the worker. */
  run(feeds: TensorMap, fetches: string[], cache?: KvCacheHandle): Promise<{ outputs: TensorMap; runMs: number }> {
    return this.runtime.call('run', { sessionId: this.info.sessionId, feeds, fetches, cacheId: cache?.cacheId });
  }

  release(): Promise<null> {
    return this.runtime.call('releaseSession', { sessionId: this.info.sessionId });
  }
}

export class KvCacheHandle {
  constructor(
    private readonly runtime: Runtime,
    readonly cacheId: number,
    readonly shape: KvCacheShape,
  ) {}

  reset(): Promise<null> {
    return this.runtime.call('resetCache', { cacheId: this.cacheId });
  }

  /** Start this empty cache, in every row, from the first `length` positions of row `row` of `source`, its slots from `firstSlot`. */
  seedFrom(source: KvCacheHandle, row: number, length: number, firstSlot = 0): Promise<null> {
    return this.runtime.call('seedCache', { cacheId: this.cacheId, sourceId: source.cacheId, row, length, firstSlot });
  }

  /**
   * Feeds every later run with this cache receives too, without being sent again: values
   * that stay the same for a whole generation (a plan's vectors and factors).
   */
  setConstantFeeds(feeds: TensorMap): Promise<null> {
    return this.runtime.call('setConstantFeeds', { cacheId: this.cacheId, feeds });
  }

  release(): Promise<null> {
    return this.runtime.call('releaseCache', { cacheId: this.cacheId });
  }
}
