/**
 * WorkbenchApi: the one interface the UI speaks (DESIGN.md, "Layout"). The renderer
 * holds an implementation of it that forwards to a transport (Electron IPC or the
 * WebSocket); the receiving side validates every request with `requestSchemas` before
 * the engine sees it. Streams (tokens, download progress, menu commands) arrive as
 * WorkbenchEvents through onEvent.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { SerializedError } from '../errors';
import { contrastReduceSchema, experimentSchema, promptSchema, variantSchema, type Experiment, type ExperimentResults, type TokenRecord } from '../experiment/schema';
import { generationSettingsSchema } from '../generate/settings';
import { consistencySettingsSchema } from '../../../src-shared/consistency';
import type { RecoveredSession } from '../experiment/autosave';
import type { HookInfo } from '../hooks/names';
import type { ExecutionProvider } from '../runtime/protocol';
import { weightOptionsSchema, type WeightFormat, type WeightOptions } from '../model/weight-format';
import { vectorRequestSchemas, type ImportedVectors, type SaeSummary, type SweepAnswer } from './vectors';
import type { TokenFeatures } from '../interchange/sae-features';
import type { LibraryVector } from '../experiment/schema';
import type { AnalysisProgress } from '../analysis/control';
import { analysisInputSchema, patchResultSchema, type AnalysisRecord } from '../../../src-shared/analysis-schema';
import { safeParseBounded } from '../../../src-shared/issues';

export type { RecoveredSession };

export interface ModelInfo {
  path: string;
  format: 'huggingface' | 'llama2c';
  architecture: string;
  family: string;
  nParams: number;
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dHead: number;
  dMlp: number;
  dVocab: number;
  nCtx: number;
  provider: ExecutionProvider;
  fallbackReason: string | null;
  /** Bytes of weights the engine keeps (the graph-layout cache file it maps). */
  weightBytes: number;
  /** How the weights are stored: float32, or int8/int4 linear layers (MatMulNBits). */
  weights: WeightOptions;
  /** Bytes of this model's cached weight file in that format, on disk. */
  cacheBytes: number;
  fingerprint: string;
  /** The tokenizer has a chat template, so the prompt's chat toggle means something. */
  hasChatTemplate: boolean;
  /**
   * Graphs compiled for the plans run so far (one per plan structure, the oldest evicted
   * past a bound) and an upper bound on the memory they hold; grows as new kinds of
   * variants run, so the status after each run carries it afresh.
   */
  compiled: { graphs: number; estimatedBytes: number };
}

export interface EngineStatus {
  state: 'idle' | 'loading' | 'generating' | 'crashed';
  model: ModelInfo | null;
  /** Why the engine crashed or the last load failed; null otherwise. */
  error: SerializedError | null;
  transport: 'ipc' | 'websocket';
  /** Native file dialogs exist (Electron); in a browser the UI asks for paths as text. */
  nativeDialogs: boolean;
  /**
   * An absolute folder to suggest for a new experiment file (Documents in the user's home
   * if it exists, else the home folder): paths must be absolute, and the engine's working
   * directory means nothing to the user.
   */
  defaultDir: string;
}

export interface RecentExperiment {
  path: string;
  name: string;
  openedAt: string;
}

/** An entry of resources/models.json that the model manager can download. */
export interface CatalogModel {
  id: string;
  name: string;
  description: string;
  bytes: number;
  /** Where it is (or will be) on disk, and whether it is already there and verified. */
  path: string;
  installed: boolean;
}

export type MenuCommand =
  | 'new'
  | 'open'
  | 'open-recent'
  | 'save'
  | 'save-as'
  | 'open-model-folder'
  | 'open-model-file'
  | 'download-model'
  | 'generate'
  | 'cancel';

export type PickKind = 'open-experiment' | 'save-experiment' | 'model-folder' | 'model-file' | 'vector-file';

/** One generated token of one variant, streamed while the run goes on. */
export interface TokenStreamEvent {
  type: 'token';
  runId: string;
  variant: number; // index into the variants the run generates (generate's answer lists their ids)
  index: number; // 0 for the first generated token
  token: TokenRecord;
}

/** Memory each weight format of a model needs, before loading it, and the format to propose. */
export interface ModelMemory {
  /** Estimated bytes per format (weights, KV cache for 4096 positions, conversion peak). */
  needs: Record<WeightFormat, number>;
  availableBytes: number;
  /** float32 when it fits comfortably; otherwise the largest format that fits; null if none does. */
  recommended: WeightFormat | null;
  reason: string;
}

export type WorkbenchEvent =
  | TokenStreamEvent
  | { type: 'conversion'; path: string; weights: string; doneBytes: number; totalBytes: number; bytesPerSecond: number }
  | { type: 'done'; runId: string; results: ExperimentResults }
  | { type: 'error'; runId: string; error: SerializedError }
  | {
      type: 'download';
      downloadId: string;
      modelId: string;
      receivedBytes: number;
      totalBytes: number | null;
      state: 'running' | 'done' | 'error';
      path: string | null;
      error: SerializedError | null;
    }
  | { type: 'status'; status: EngineStatus }
  /** An Inside-tab analysis: progress while it runs, then one event that ends it (record only when done). */
  | { type: 'analysis'; analysisId: string; state: 'running' | 'done' | 'cancelled' | 'error'; progress: AnalysisProgress | null; record: AnalysisRecord | null; error: SerializedError | null }
  /** A Vectors-tab sweep, reported as an analysis is (answer only when done). */
  | { type: 'sweep'; sweepId: string; state: 'running' | 'done' | 'cancelled' | 'error'; progress: AnalysisProgress | null; answer: SweepAnswer | null; error: SerializedError | null }
  | { type: 'menu'; command: MenuCommand; path: string | null };

// Absolute only: a relative path would resolve against the engine's working directory,
// which the user never sees (in browser mode the page types paths as text).
const path = z
  .string()
  .min(1, 'must name a path')
  .max(4096)
  .refine((value) => isAbsolute(value), { message: 'must be an absolute path (e.g. /home/me/runs/sweep.tiller.json or C:\\runs\\sweep.tiller.json)' });

/** Requests by method; the receiving side parses params with these before acting. */
export const requestSchemas = {
  status: z.strictObject({}),
  restartEngine: z.strictObject({}),
  loadModel: z.strictObject({ path, tokenizerPath: path.optional(), weights: weightOptionsSchema.optional() }),
  modelMemory: z.strictObject({ path, tokenizerPath: path.optional() }),
  unloadModel: z.strictObject({}),
  listHooks: z.strictObject({}),
  tokenize: z.strictObject({ text: z.string().max(1_000_000), chat: z.boolean().default(false) }),
  embeddingVector: z.strictObject({ token: z.string().min(1, 'must name a token') }),
  contrastVector: z.strictObject({ hook: z.string().min(1), positive: z.string().min(1), negative: z.string().min(1), reduce: contrastReduceSchema.default('mean') }),
  readVectorFile: z.strictObject({ path, key: z.string().optional() }),
  extractVectors: vectorRequestSchemas.extractVectors,
  actAddVector: vectorRequestSchemas.actAddVector,
  functionVector: vectorRequestSchemas.functionVector,
  importVectors: vectorRequestSchemas.importVectors.extend({ path }),
  exportVectors: vectorRequestSchemas.exportVectors.extend({ path }),
  sweepVector: vectorRequestSchemas.sweepVector,
  saeFeatures: vectorRequestSchemas.saeFeatures.extend({ folder: path }),
  saeDirection: vectorRequestSchemas.saeDirection.extend({ folder: path }),
  validateVariant: z.strictObject({ variant: variantSchema }),
  generate: z.strictObject({
    prompt: promptSchema,
    settings: generationSettingsSchema,
    /** Whether the lens pass runs after generation, and over which answers (absent: on, no answers). */
    consistency: consistencySettingsSchema.prefault({}),
    variants: z.array(variantSchema).min(1, 'must hold at least the baseline').max(16, 'at most 16 variants run together'),
    /**
     * Regenerate only the variant with this id (the live strength slider): it runs with the
     * baseline (variants[0]) beside it, which its tokens are compared with, and the other
     * variants are neither checked nor run. Token events and results hold those two.
     */
    only: z.string().min(1).nullable().default(null),
  }),
  cancel: z.strictObject({ runId: z.string().min(1) }),
  analyse: z.strictObject({ analysis: analysisInputSchema }),
  cancelAnalysis: z.strictObject({ analysisId: z.string().min(1) }),
  cancelSweep: z.strictObject({ sweepId: z.string().min(1) }),
  exportPatching: z.strictObject({ path, result: patchResultSchema }),
  saveExperiment: z.strictObject({ path, experiment: experimentSchema }),
  openExperiment: z.strictObject({ path }),
  listRecent: z.strictObject({}),
  // path: the file the session edits (opened or last saved), so restored work saves back to it.
  autosave: z.strictObject({ experiment: experimentSchema.nullable(), path: path.nullable().default(null) }),
  recoverAutosave: z.strictObject({}),
  listModels: z.strictObject({}),
  downloadModel: z.strictObject({ id: z.string().min(1) }),
  pickPath: z.strictObject({ kind: z.enum(['open-experiment', 'save-experiment', 'model-folder', 'model-file', 'vector-file']), defaultPath: z.string().optional() }),
} as const;

export type WorkbenchMethod = keyof typeof requestSchemas;
export type RequestOf<M extends WorkbenchMethod> = z.input<(typeof requestSchemas)[M]>;
export type ParamsOf<M extends WorkbenchMethod> = z.output<(typeof requestSchemas)[M]>;

// The params objects parseParams produced. A request parsed at the transport reaches the
// Workbench as one of these and is not parsed again (a Generate with a 16-variant plan is
// parsed once per process, not once per layer it passes through).
const parsedParams = new WeakSet<object>();

/** requestSchemas[method] applied once: params this function already produced are returned as they are. */
export function parseParams<M extends WorkbenchMethod>(method: M, params: unknown): z.ZodSafeParseResult<ParamsOf<M>> {
  if (typeof params === 'object' && params !== null && parsedParams.has(params)) return { success: true, data: params as ParamsOf<M> };
  const result = safeParseBounded(requestSchemas[method], params ?? {}) as z.ZodSafeParseResult<ParamsOf<M>>;
  if (result.success) parsedParams.add(result.data as object);
  return result;
}

export interface VariantIssue {
  /** Dotted path into the variant, e.g. "interventions.0.vector". */
  path: string;
  message: string;
  /** Absent for errors (the variant cannot run); 'warning' for parts that run but have no effect. */
  severity?: 'warning';
}

export interface WorkbenchApi {
  status(request: RequestOf<'status'>): Promise<EngineStatus>;
  /** Restart a crashed engine process (app only; a no-op elsewhere). */
  restartEngine(request: RequestOf<'restartEngine'>): Promise<EngineStatus>;
  /** Load a model; converting its weights on the first load in a format streams 'conversion' events. */
  loadModel(request: RequestOf<'loadModel'>): Promise<ModelInfo>;
  /** What each weight format of the model at `path` would need, read from its config before loading. */
  modelMemory(request: RequestOf<'modelMemory'>): Promise<ModelMemory>;
  unloadModel(request: RequestOf<'unloadModel'>): Promise<void>;
  listHooks(request: RequestOf<'listHooks'>): Promise<HookInfo[]>;
  tokenize(request: RequestOf<'tokenize'>): Promise<{ ids: number[]; tokens: string[] }>;
  /** The token embedding row of a text that encodes to exactly one token. */
  embeddingVector(request: RequestOf<'embeddingVector'>): Promise<{ vector: number[]; tokenId: number }>;
  /** Mean difference at `hook` (last position) between a positive and a negative prompt (ActAdd/CAA style). */
  contrastVector(request: RequestOf<'contrastVector'>): Promise<{ vector: number[] }>;
  /** A vector from a safetensors file (keyed by hook name) or a JSON list of numbers. */
  readVectorFile(request: RequestOf<'readVectorFile'>): Promise<{ vector: number[]; key: string | null; keys: string[] }>;
  /** Library vectors from contrast prompts (mean difference or PCA) at each hook, with norms relative to the residual norm. */
  extractVectors(request: RequestOf<'extractVectors'>): Promise<{ entries: LibraryVector['entries']; pairs: number; forwardPasses: number }>;
  /** ActAdd from one pair: one entry per position of the padded pair (entry.position), with the tokens that lined up. */
  actAddVector(request: RequestOf<'actAddVector'>): Promise<{ entries: LibraryVector['entries']; positive: string[]; negative: string[] }>;
  /** A function vector: the chosen heads' mean last-token output over the prompts, at resid_post of `layer`. */
  functionVector(request: RequestOf<'functionVector'>): Promise<{ entries: LibraryVector['entries']; heads: { layer: number; head: number; norm: number }[]; forwardPasses: number }>;
  /** Every vector of a file (GGUF control vector, safetensors, Neuronpedia or plain JSON), for the library. */
  importVectors(request: RequestOf<'importVectors'>): Promise<ImportedVectors>;
  /** Write library vectors to a .gguf, .safetensors or Neuronpedia .json file (the extension picks). */
  exportVectors(request: RequestOf<'exportVectors'>): Promise<{ path: string }>;
  /** Generate a vector over a scale x layer grid: texts, the baseline text's perplexity and a target's probability per cell. */
  /** Start a sweep on the loaded model; progress and the answer come as 'sweep' events. A new one cancels the one running. */
  sweepVector(request: RequestOf<'sweepVector'>): Promise<{ sweepId: string }>;
  cancelSweep(request: RequestOf<'cancelSweep'>): Promise<void>;
  /** An SAELens SAE folder read on the prompt: each token's most active features (refused, with the reason, if the SAE does not fit the model). */
  saeFeatures(request: RequestOf<'saeFeatures'>): Promise<{ sae: SaeSummary; tokens: TokenFeatures[] }>;
  /** An SAE feature's decoder row, as a steering vector at the SAE's hook. */
  saeDirection(request: RequestOf<'saeDirection'>): Promise<{ sae: SaeSummary; hook: string; vector: number[]; norm: number }>;
  /** Check a variant against the loaded model; issues name the field. */
  validateVariant(request: RequestOf<'validateVariant'>): Promise<{ issues: VariantIssue[] }>;
  /** Start generating every variant from the same prompt and seed; tokens stream as events. */
  /** variantIds: the variants the run generates, in the order its token events index them. */
  generate(request: RequestOf<'generate'>): Promise<{ runId: string; promptIds: number[]; variantIds: string[] }>;
  cancel(request: RequestOf<'cancel'>): Promise<void>;
  /** Start an analysis (logit lens, patching sweep) on the loaded model; progress and the record come as 'analysis' events. A new one cancels the one running. */
  analyse(request: RequestOf<'analyse'>): Promise<{ analysisId: string }>;
  cancelAnalysis(request: RequestOf<'cancelAnalysis'>): Promise<void>;
  /** Write a patching sweep's effects to a .csv or .safetensors file. */
  exportPatching(request: RequestOf<'exportPatching'>): Promise<{ path: string; format: 'csv' | 'safetensors' }>;
  /** warnings: problems after a successful save (e.g. an old sidecar that could not be removed). */
  saveExperiment(request: RequestOf<'saveExperiment'>): Promise<{ path: string; warnings: string[] }>;
  openExperiment(request: RequestOf<'openExperiment'>): Promise<{ path: string; experiment: Experiment; warnings: string[] }>;
  listRecent(request: RequestOf<'listRecent'>): Promise<RecentExperiment[]>;
  /** Keep the unsaved session (and the file it belongs to) for crash recovery; null clears it (after a save). */
  autosave(request: RequestOf<'autosave'>): Promise<void>;
  /** What a session that ended without saving left: its experiment and its file (null if it had none). */
  recoverAutosave(request: RequestOf<'recoverAutosave'>): Promise<RecoveredSession | null>;
  listModels(request: RequestOf<'listModels'>): Promise<CatalogModel[]>;
  downloadModel(request: RequestOf<'downloadModel'>): Promise<{ downloadId: string }>;
  /** A native file dialog; null when cancelled or when there are no native dialogs. */
  pickPath(request: RequestOf<'pickPath'>): Promise<string | null>;
  onEvent(listener: (event: WorkbenchEvent) => void): () => void;
}

/** What a method resolves to, for clients that type their calls by method name. */
export type ResultOf<M extends WorkbenchMethod> = Awaited<ReturnType<WorkbenchApi[M]>>;

// ------------------------------------------------------------------------ wire format
//
// Both transports carry the same messages (src-main/transport/dispatch.ts validates them):
//   client -> engine  {"kind":"request","id":7,"method":"loadModel","params":{"path":"..."}}
//   engine -> client  {"kind":"response","id":7,"ok":true,"result":{...}}   (null for void)
//                     {"kind":"response","id":7,"ok":false,"error":{"code":"...","message":"..."}}
//                     {"kind":"event","event":{"type":"token",...}}
// The WebSocket lives at ws://127.0.0.1:PORT/api?token=TOKEN; the page that serve prints
// (http://127.0.0.1:PORT/?token=TOKEN) reads its token from its own URL.

/** An error as it crosses a transport: the engine's codes, plus 'bad_request' for a malformed message. */
export interface WireError {
  code: SerializedError['code'] | 'bad_request';
  message: string;
  details?: Record<string, unknown>;
}

export interface WireRequest {
  kind: 'request';
  id: number;
  method: WorkbenchMethod;
  params: unknown;
}

/** id is null only when the request was too malformed to carry one. */
export type WireResponse =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number | null; ok: false; error: WireError };

export interface WireEvent {
  kind: 'event';
  event: WorkbenchEvent;
}

/** What one call resolves to on the client side of either transport. */
export type InvokeResult = { ok: true; result: unknown } | { ok: false; error: WireError };

/** The preload's `window.tiller`: nothing else crosses the context bridge. */
export interface TillerBridge {
  invoke(method: WorkbenchMethod, params: unknown): Promise<InvokeResult>;
  onEvent(listener: (event: WorkbenchEvent) => void): () => void;
}
