/**
 * The WorkbenchApi over any transport. A transport moves one request and one reply
 * (`invoke`) and pushes events (`onEvent`); this file turns replies into values or
 * ApiErrors. Every method is written out (no Proxy), so the compiler checks each one
 * against the interface.
 */
import { ApiError, BAD_REPLY } from './errors';
import type { Reply, RequestOf, ResultOf, WorkbenchApi, WorkbenchEvent, WorkbenchMethod } from './types';

export interface Transport {
  invoke(method: WorkbenchMethod, params: unknown): Promise<Reply>;
  onEvent(listener: (event: WorkbenchEvent) => void): () => void;
}

export function createWorkbenchApi(transport: Transport): WorkbenchApi {
  async function call<M extends WorkbenchMethod>(method: M, params: RequestOf<M>): Promise<ResultOf<M>> {
    const reply = await transport.invoke(method, params);
    if (!isReply(reply)) throw new ApiError(BAD_REPLY, `malformed reply to ${method}`);
    if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message, reply.error.details);
    return reply.result as ResultOf<M>;
  }

  return {
    status: (request) => call('status', request),
    restartEngine: (request) => call('restartEngine', request),
    loadModel: (request) => call('loadModel', request),
    modelMemory: (request) => call('modelMemory', request),
    unloadModel: (request) => call('unloadModel', request),
    listHooks: (request) => call('listHooks', request),
    tokenize: (request) => call('tokenize', request),
    embeddingVector: (request) => call('embeddingVector', request),
    contrastVector: (request) => call('contrastVector', request),
    readVectorFile: (request) => call('readVectorFile', request),
    extractVectors: (request) => call('extractVectors', request),
    actAddVector: (request) => call('actAddVector', request),
    functionVector: (request) => call('functionVector', request),
    importVectors: (request) => call('importVectors', request),
    exportVectors: (request) => call('exportVectors', request),
    sweepVector: (request) => call('sweepVector', request),
    saeFeatures: (request) => call('saeFeatures', request),
    saeDirection: (request) => call('saeDirection', request),
    validateVariant: (request) => call('validateVariant', request),
    generate: (request) => call('generate', request),
    cancel: (request) => call('cancel', request),
    analyse: (request) => call('analyse', request),
    cancelAnalysis: (request) => call('cancelAnalysis', request),
    cancelSweep: (request) => call('cancelSweep', request),
    exportPatching: (request) => call('exportPatching', request),
    saveExperiment: (request) => call('saveExperiment', request),
    openExperiment: (request) => call('openExperiment', request),
    listRecent: (request) => call('listRecent', request),
    autosave: (request) => call('autosave', request),
    recoverAutosave: (request) => call('recoverAutosave', request),
    listModels: (request) => call('listModels', request),
    downloadModel: (request) => call('downloadModel', request),
    pickPath: (request) => call('pickPath', request),
    onEvent: (listener) => transport.onEvent(listener),
  };
}

function isReply(value: unknown): value is Reply {
  if (typeof value !== 'object' || value === null || !('ok' in value)) return false;
  // A void method's reply may carry no result at all (JSON drops undefined).
  if (value.ok === true) return true;
  if (value.ok !== false || !('error' in value)) return false;
  const error = value.error;
  return typeof error === 'object' && error !== null && 'code' in error && 'message' in error && typeof error.code === 'string' && typeof error.message === 'string';
}
