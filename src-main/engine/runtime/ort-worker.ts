/**
 * The inference worker: owns every onnxruntime session and KV cache. session.run blocks
 * its thread for the whole inference (ORT-NOTES.md section 4), so it runs here, never on
 * the thread that serves callers.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { EngineError, serializeError } from '../errors';
import { graphOutput } from '../graph-io';
import { KvCache } from './kv-cache';
import type { ExecutionProvider, SessionInfo, SessionOptions, WorkerMethods, WorkerRequest, WorkerResponse } from './protocol';
import type { HostTensor, TensorMap } from './tensor';

const sessions = new Map<number, ort.InferenceSession>();
const caches = new Map<number, KvCache>();
/** Per KV cache: feeds its every run gets too (setConstantFeeds), made into onnxruntime tensors once. */
const constantFeeds = new Map<number, Record<string, ort.Tensor>>();
let nextId = 1;

async function createSession(modelPath: string, options: SessionOptions): Promise<SessionInfo> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.threads,
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
  };
  const available = ort.listSupportedBackends().map((b) => b.name);
  let fallbackReason: string | null = null;
  let session: ort.InferenceSession | null = null;
  let provider: ExecutionProvider = 'cpu';
  if (options.executionProvider !== 'cpu') {
    if (!available.includes(options.executionProvider)) {
      fallbackReason = `${options.executionProvider} is not available in this onnxruntime-node build on ${process.platform}/${process.arch} (available: ${available.join(', ')}); using cpu`;
    } else {
      try {
        session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: [options.executionProvider] });
        provider = options.executionProvider;
      } catch (error) {
        fallbackReason = `${options.executionProvider} failed to start (${(error as Error).message.split('\n')[0]}); using cpu`;
      }
    }
  }
  if (!session) {
    try {
      session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
    } catch (error) {
      throw new EngineError('runtime_error', `onnxruntime could not load ${modelPath}: ${(error as Error).message}`);
    }
  }
  const sessionId = nextId++;
  sessions.set(sessionId, session);
  return { sessionId, inputNames: [...session.inputNames], outputNames: [...session.outputNames], provider, fallbackReason };
}

function toOrt(tensor: HostTensor): ort.Tensor {
  return new ort.Tensor(tensor.dtype, tensor.data, tensor.dims);
}

function fromOrt(name: string, tensor: ort.Tensor): HostTensor {
  const dims = [...tensor.dims];
  if (tensor.type === 'float32') return { dtype: 'float32', dims, data: tensor.data as Float32Array };
  if (tensor.type === 'int64') return { dtype: 'int64', dims, data: tensor.data as BigInt64Array };
  if (tensor.type === 'int32') return { dtype: 'int32', dims, data: tensor.data as Int32Array };
  throw new EngineError('runtime_error', `output ${name} has unsupported type ${tensor.type}`);
}

/** Name every missing and unexpected feed before onnxruntime gives a less helpful error. */
function checkFeeds(session: ort.InferenceSession, given: string[]): void {
  const expected = new Set(session.inputNames);
  const fed = new Set(given);
  const missing = [...expected].filter((n) => !fed.has(n));
  const unexpected = given.filter((n) => !expected.has(n));
  if (missing.length || unexpected.length) {
    throw new EngineError('feed_mismatch', `feeds do not match the session inputs (missing: ${missing.join(', ') || 'none'}; unexpected: ${unexpected.join(', ') || 'none'})`, { missing, unexpected });
  }
}

async function run({ sessionId, feeds, fetches, cacheId }: WorkerMethods['run']['request']): Promise<WorkerMethods['run']['result']> {
  const session = sessions.get(sessionId);
  if (!session) throw new EngineError('runtime_error', `no session ${sessionId}`);
  const cache = cacheId === undefined ? undefined : caches.get(cacheId);
  if (cacheId !== undefined && !cache) throw new EngineError('runtime_error', `no KV cache ${cacheId}`);
  const allFeeds: TensorMap = { ...feeds };
  const allFetches = [...fetches];
  const seq = feeds.input_ids?.dims[1] ?? 0;
  if (cache) {
    cache.reserve(seq);
    Object.assign(allFeeds, cache.feeds(seq));
    for (let slot = 0; slot < cache.shape.slots; slot++) allFetches.push(graphOutput.newKey(slot), graphOutput.newValue(slot));
  }
  const constants = (cacheId === undefined ? undefined : constantFeeds.get(cacheId)) ?? {};
  checkFeeds(session, [...Object.keys(allFeeds), ...Object.keys(constants)]);
  const ortFeeds: Record<string, ort.Tensor> = { ...constants };
  for (const [name, tensor] of Object.entries(allFeeds)) ortFeeds[name] = toOrt(tensor);
  const started = performance.now();
  let results: ort.InferenceSession.ReturnType;
  try {
    results = await session.run(ortFeeds, allFetches);
  } catch (error) {
    throw new EngineError('runtime_error', `inference failed: ${(error as Error).message}`);
  }
  const runMs = performance.now() - started;
  if (cache) {
    for (let slot = 0; slot < cache.shape.slots; slot++) {
      cache.append(slot, results[graphOutput.newKey(slot)].data as Float32Array, results[graphOutput.newValue(slot)].data as Float32Array, seq);
    }
    cache.advance(seq);
  }
  const outputs: TensorMap = {};
  for (const name of fetches) outputs[name] = fromOrt(name, results[name]);
  return { outputs, runMs };
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.method) {
    case 'createSession':
      return createSession(request.params.modelPath, request.params.options);
    case 'run':
      return run(request.params);
    case 'releaseSession': {
      await sessions.get(request.params.sessionId)?.release();
      sessions.delete(request.params.sessionId);
      return null;
    }
    case 'createCache': {
      const cacheId = nextId++;
      caches.set(cacheId, new KvCache(request.params.shape));
      return { cacheId };
    }
    case 'resetCache':
      caches.get(request.params.cacheId)?.reset();
      return null;
    case 'seedCache': {
      const { cacheId, sourceId, row, length, firstSlot } = request.params;
      const [cache, source] = [caches.get(cacheId), caches.get(sourceId)];
      if (!cache || !source) throw new EngineError('runtime_error', `no KV cache ${cache ? sourceId : cacheId}`);
      cache.seedFrom(source, row, length, firstSlot);
      return null;
    }
    case 'setConstantFeeds': {
      if (!caches.has(request.params.cacheId)) throw new EngineError('runtime_error', `no KV cache ${request.params.cacheId}`);
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(request.params.feeds)) tensors[name] = toOrt(tensor);
      constantFeeds.set(request.params.cacheId, tensors);
      return null;
    }
    case 'releaseCache':
      caches.delete(request.params.cacheId);
      constantFeeds.delete(request.params.cacheId);
      return null;
  }
}

function transferables(result: unknown): ArrayBuffer[] {
  if (!result || typeof result !== 'object' || !('outputs' in result)) return [];
  return Object.values((result as { outputs: TensorMap }).outputs).map((t) => t.data.buffer as ArrayBuffer);
}

const port = parentPort;
if (!port) throw new Error('ort-worker must run in a worker thread');
// Requests are handled one at a time, in order: onnxruntime serialises runs anyway, and
// ordering keeps a cache reset from overtaking the run before it.
let queue: Promise<void> = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    let response: WorkerResponse;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = await handle(request);
      response = { id: request.id, ok: true, result };
      transfer = transferables(result);
    } catch (error) {
      response = { id: request.id, ok: false, error: serializeError(error) };
    }
    port.postMessage(response, transfer);
  });
});
