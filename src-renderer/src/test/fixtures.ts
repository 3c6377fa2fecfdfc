/** A small model, its hook catalogue and a fake engine, for component tests (no engine runs here). */
import { vi } from 'vitest';
import type { EditorApi, EditorEnv } from '../lib/components/variants/env';
import type { EngineStatus, HookInfo, ModelInfo, RequestOf, TokenRecord, WorkbenchApi, WorkbenchEvent } from '../lib/api/types';
import { oneVariantIds } from '../lib/logic/one-variant';
import type { PatchingRecord } from '../lib/logic/inside';

/** The variants a generate request runs, as the engine answers them. */
export function generatedIds(variants: readonly { id: string }[], only: string | null | undefined): string[] {
  const ids = variants.map((variant) => variant.id);
  return only ? oneVariantIds(ids, only) : ids;
}

export const MODEL: ModelInfo = {
  path: '/models/tiny',
  format: 'huggingface',
  architecture: 'LlamaForCausalLM',
  family: 'llama',
  nParams: 260_000,
  nLayers: 5,
  dModel: 4,
  nHeads: 4,
  nKvHeads: 2,
  dHead: 1,
  dMlp: 8,
  dVocab: 512,
  nCtx: 512,
  provider: 'cpu',
  fallbackReason: null,
  weightBytes: 1_200_000,
  weights: { format: 'f32', blockSize: 32, accuracyLevel: 4 },
  cacheBytes: 1_300_000,
  fingerprint: 'abc123',
  hasChatTemplate: false,
  compiled: { graphs: 1, estimatedBytes: 1_300_000 },
};

function hook(name: string, layer: number | null, site: string, dims: string[], shape: (number | 'pos')[], indexUnit: HookInfo['indexUnit'], nIndex: number): HookInfo {
  return { name, layer, site, dims, shape, indexUnit, nIndex } as HookInfo;
}

/** A catalogue shaped like engine/hooks/names.ts's, for a subset of sites. */
export function hooksOf(model: ModelInfo): HookInfo[] {
  const residual = (name: string, layer: number | null, site: string) => hook(name, layer, site, ['pos', 'd_model'], ['pos', model.dModel], 'dim', model.dModel);
  const list: HookInfo[] = [residual('hook_embed', null, 'hook_embed')];
  for (let l = 0; l < model.nLayers; l++) {
    list.push(residual(`blocks.${l}.hook_resid_pre`, l, 'hook_resid_pre'));
    list.push(hook(`blocks.${l}.attn.hook_pattern`, l, 'attn.hook_pattern', ['head', 'q_pos', 'k_pos'], [model.nHeads, 'pos', 'pos'], 'head', model.nHeads));
    list.push(hook(`blocks.${l}.attn.hook_z`, l, 'attn.hook_z', ['pos', 'head', 'd_head'], ['pos', model.nHeads, model.dHead], 'head', model.nHeads));
    list.push(residual(`blocks.${l}.hook_attn_out`, l, 'hook_attn_out'));
    list.push(residual(`blocks.${l}.hook_resid_mid`, l, 'hook_resid_mid'));
    list.push(hook(`blocks.${l}.mlp.hook_post`, l, 'mlp.hook_post', ['pos', 'd_mlp'], ['pos', model.dMlp], 'neuron', model.dMlp));
    list.push(residual(`blocks.${l}.hook_mlp_out`, l, 'hook_mlp_out'));
    list.push(residual(`blocks.${l}.hook_resid_post`, l, 'hook_resid_post'));
  }
  list.push(residual('ln_final.hook_normalized', null, 'ln_final.hook_normalized'));
  list.push(hook('logits', null, 'logits', ['pos', 'd_vocab'], ['pos', model.dVocab], null, 0));
  return list;
}

/** The engine calls the editor makes, as spies with plausible answers. */
export function fakeEditorApi(overrides: Partial<EditorApi> = {}): EditorApi {
  return {
    embeddingVector: vi.fn(async ({ token }: { token: string }) => ({ vector: [0.5, -1, 0.25, 2], tokenId: token.length + 400 })),
    contrastVector: vi.fn(async () => ({ vector: [1, 1, 0, 0] })),
    readVectorFile: vi.fn(async () => ({ vector: [0, 0, 1, 0], key: 'blocks.1.hook_resid_post', keys: ['blocks.1.hook_resid_post'] })),
    tokenize: vi.fn(async ({ text }: { text: string }) => ({ ids: text.split(' ').map((_, i) => 10 + i), tokens: text.split(' ') })),
    validateVariant: vi.fn(async () => ({ issues: [] })),
    pickPath: vi.fn(async () => null),
    ...overrides,
  };
}

export function editorEnv(api: EditorApi = fakeEditorApi(), model: ModelInfo | null = MODEL, prompt = { text: 'Once upon a time', chat: false }): EditorEnv {
  return { api, model, hooks: model ? hooksOf(model) : [], nativeDialogs: false, prompt };
}

export function token(id: number, text: string, logprob: number, top: [number, string, number][] = []): TokenRecord {
  return { id, text, logprob, top: top.map(([altId, altText, altLogprob]) => ({ id: altId, text: altText, logprob: altLogprob })) };
}

export const IDLE: EngineStatus = { state: 'idle', model: MODEL, error: null, transport: 'websocket', nativeDialogs: false, defaultDir: '/home/me/Documents' };

/** A WorkbenchApi whose methods are spies with plausible answers, and a way to push events as the engine would. */
export function fakeWorkbenchApi(overrides: Partial<WorkbenchApi> = {}) {
  const listeners = new Set<(event: WorkbenchEvent) => void>();
  const api: WorkbenchApi = {
    status: vi.fn(async () => IDLE),
    restartEngine: vi.fn(async () => IDLE),
    loadModel: vi.fn(async () => MODEL),
    modelMemory: vi.fn(async () => ({ needs: { f32: 2_000_000, int8: 700_000, int4: 400_000 }, availableBytes: 8e9, recommended: 'f32' as const, reason: 'float32 weights need about 0.00 GB of the 8.0 GB available: exact, and the default' })),
    unloadModel: vi.fn(async () => undefined),
    listHooks: vi.fn(async () => hooksOf(MODEL)),
    listRecent: vi.fn(async () => []),
    listModels: vi.fn(async () => []),
    recoverAutosave: vi.fn(async () => null),
    autosave: vi.fn(async () => undefined),
    generate: vi.fn(async ({ variants, only }: RequestOf<'generate'>) => ({ runId: 'run-1', promptIds: [1, 2], variantIds: generatedIds(variants, only) })),
    cancel: vi.fn(async () => undefined),
    analyse: vi.fn(async () => ({ analysisId: 'analysis-1' })),
    cancelAnalysis: vi.fn(async () => undefined),
    cancelSweep: vi.fn(async () => undefined),
    exportPatching: vi.fn(async ({ path }: { path: string }) => ({ path, format: 'csv' as const })),
    saveExperiment: vi.fn(async ({ path }: { path: string }) => ({ path, warnings: [] })),
    openExperiment: vi.fn(async () => {
      throw new Error('no files here');
    }),
    downloadModel: vi.fn(async () => ({ downloadId: 'd' })),
    extractVectors: vi.fn(async ({ hooks }: { hooks: string[] }) => ({ entries: hooks.map((hook) => ({ hook, vector: [1, 0, 0, 0], norm: 1, relativeNorm: 0.1 })), pairs: 2, forwardPasses: 2 })),
    actAddVector: vi.fn(async ({ hook }: { hook: string }) => ({ entries: [1, 2].map((position) => ({ hook, vector: [0, 0, 1, 0], norm: 1, relativeNorm: 0.2, position })), positive: ['<s>', 'Love'], negative: ['<s>', 'Hate'] })),
    functionVector: vi.fn(async ({ layer }: { layer?: number }) => ({ entries: [{ hook: `blocks.${layer ?? 0}.hook_resid_post`, vector: [0, 0, 0, 1], norm: 1, relativeNorm: null }], heads: [], forwardPasses: 1 })),
    importVectors: vi.fn(async () => ({ format: 'gguf', model: 'llama', label: null, strength: null, metadata: {}, warnings: [], entries: [{ key: 'direction.1', hook: 'blocks.1.hook_resid_post', vector: [0, 1, 0, 0], norm: 1 }] })),
    exportVectors: vi.fn(async ({ path }: { path: string }) => ({ path })),
    sweepVector: vi.fn(async () => {
      throw new Error('no sweeps here');
    }),
    saeFeatures: vi.fn(async () => {
      throw new Error('no SAEs here');
    }),
    saeDirection: vi.fn(async () => {
      throw new Error('no SAEs here');
    }),
    ...fakeEditorApi(),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ...overrides,
  };
  const emit = (event: WorkbenchEvent) => listeners.forEach((listener) => listener(event));
  return { api, emit };
}

const headPatchingRequest = { clean: [1, 2], corrupted: [1, 3], answer: 5, wrong: 6, site: 'z' as const, direction: 'denoising' as const, metric: 'logit_diff' as const, positions: 'each' as const, batchSize: 32, alignment: null };
/** An Inside-tab patching sweep per head (site z) over 3 blocks x 2 heads. */
export const headPatchingRecord: PatchingRecord = {
  kind: 'patching',
  id: 'analysis-2',
  createdAt: '2026-01-01T00:00:00Z',
  labels: {},
  input: { clean: 'a b', corrupted: 'a c', answer: '#5', wrong: '#6', site: 'z', direction: 'denoising', metric: 'logit_diff', positions: 'each', alignment: null },
  request: headPatchingRequest,
  result: {
    request: headPatchingRequest,
    layers: [0, 1, 2],
    columnKind: 'head',
    columns: [0, 1],
    effect: [[0.1, -0.4], [0.7, 0.05], [0.3, 0.69]],
    value: [[0, 0], [0, 0], [0, 0]],
    clean: { value: 2, logitDiff: 2, answerProb: 0.5 },
    corrupted: { value: 0, logitDiff: 0, answerProb: 0.1 },
    forwardPasses: 1,
    cells: 6,
    warnings: [],
  },
};
