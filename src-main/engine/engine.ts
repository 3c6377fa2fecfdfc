/**
 * The engine: loads a checkpoint, writes its graph-layout weights to the cache once,
 * compiles the family's ONNX graph and runs it in the inference worker. The CLI, the
 * WebSocket server and the app all reach it through api.ts.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from './errors';
import { decodingSchema, type DecodingInput, type DecodingStep } from './generate/decoding-options';
import { generate, type GenerationEvent, type GenerationResult, type TokenEvent } from './generate/generate';
import type { GenerationSettings } from './generate/settings';
import type { StepModel } from './generate/step-model';
import { encodeModel } from './graph/onnx-proto';
import { buildLlamaGraph, llamaGraphWeights } from './graph/llama';
import { ensureWeightFile } from './graph/weights-file';
import { validatePlan, type Plan } from './hooks/plan';
import { captureOutput } from './graph/taps';
import { captureFetches, PlanSessions, planFeeds, shapeCapture, type CaptureResult } from './plan-sessions';
import { writeAtomically } from './write-atomically';
import { weightsFingerprint } from './model/fingerprint';
import { openModel, type LoadedModel } from './model/load';
import type { ModelSpec } from './model/spec';
import type { TextTokenizer } from './model/tokenizer/types';
import type { ExecutionProvider } from './runtime/protocol';
import { Runtime, type KvCacheHandle, type Session } from './runtime/runtime';
import { int64, type TensorMap } from './runtime/tensor';

/** One variant of a generateVariants call: a plan (validated against the model) and a decoding strategy. */
export interface VariantRun {
  plan?: unknown;
  decoding?: DecodingInput;
}

export interface VariantTokenEvent {
  variant: number;
  token: TokenEvent;
  /** The layer and per-candidate scores of a lens-based strategy (LFD, DoLa); null otherwise. */
  decoding: DecodingStep | null;
}

export interface EngineOptions {
  /** Where graph-layout weights and compiled graphs are cached (default: the user's cache folder). */
  cacheDir?: string;
  executionProvider?: ExecutionProvider;
  threads?: number;
}

/** Bumped whenever the weight layout or graph changes, so stale caches are not reused. */
const GRAPH_VERSION = 'llama-1';

export function defaultCacheDir(): string {
  if (process.env.TILLER_CACHE_DIR) return process.env.TILLER_CACHE_DIR;
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return join(process.env.LOCALAPPDATA, 'Tiller', 'cache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'Tiller');
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tiller');
}

export class Engine {
  private readonly runtime: Runtime;
  private readonly cacheDir: string;
  private readonly executionProvider: ExecutionProvider;

  private constructor(options: EngineOptions) {
    this.runtime = new Runtime({ threads: options.threads });
    this.cacheDir = options.cacheDir ?? defaultCacheDir();
    this.executionProvider = options.executionProvider ?? 'cpu';
  }

  static create(options: EngineOptions = {}): Engine {
    return new Engine(options);
  }

  async loadModel(path: string, options: { tokenizerPath?: string } = {}): Promise<ModelHandle> {
    const loaded = await openModel(path, options);
    try {
      const fingerprint = weightsFingerprint(loaded.weights.files);
      const dir = join(this.cacheDir, 'models', `${fingerprint.slice(0, 24)}-${GRAPH_VERSION}`);
      const manifest = ensureWeightFile(dir, `${fingerprint}:${GRAPH_VERSION}`, llamaGraphWeights(loaded.spec, loaded.weights));
      const graphPath = join(dir, 'base.onnx');
      writeAtomically(graphPath, encodeModel(buildLlamaGraph(loaded.spec, manifest)));
      const session = await this.runtime.createSession(graphPath, this.executionProvider);
      const plans = new PlanSessions(this.runtime, loaded.spec, manifest, dir, this.executionProvider);
      return new ModelHandle(this.runtime, loaded, session, plans, fingerprint);
    } finally {
      loaded.weights.close();
    }
  }

  close(): Promise<void> {
    return this.runtime.close();
  }
}

export class ModelHandle {
  readonly spec: ModelSpec;
  readonly tokenizer: TextTokenizer;
  readonly format: LoadedModel['format'];
  readonly path: string;

  constructor(
    private readonly runtime: Runtime,
    loaded: LoadedModel,
    private readonly session: Session,
    private readonly plans: PlanSessions,
    /** Sampled fingerprint of the checkpoint files (model/fingerprint.ts). */
    readonly fingerprint: string,
  ) {
    this.spec = loaded.spec;
    this.tokenizer = loaded.tokenizer;
    this.format = loaded.format;
    this.path = loaded.path;
  }

  /** The execution provider the model runs on, and why another was not used. */
  get provider(): ExecutionProvider {
    return this.session.provider;
  }

  get fallbackReason(): string | null {
    return this.session.info.fallbackReason;
  }

  private newCache(): Promise<KvCacheHandle> {
    const { nLayers, nKvHeads, dHead, nCtx } = this.spec;
    return this.runtime.createKvCache({ slots: nLayers, batch: 1, nKvHeads, dHead, maxPositions: nCtx });
  }

  private checkIds(ids: readonly number[]): void {
    if (ids.length === 0) throw new EngineError('bad_argument', 'no input tokens');
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= this.spec.dVocab);
    if (bad !== undefined) throw new EngineError('bad_argument', `token id ${bad} is outside the vocabulary (0..${this.spec.dVocab - 1})`);
  }

  /**
   * Run `ids` at positions start.. through `session`, returning logits rows for `logitsAt`
   * (indices into ids) and the other fetched outputs; `extraFeeds` carry a plan's values.
   */
  private async runGraph(
    session: Session,
    cache: KvCacheHandle,
    ids: readonly number[],
    start: number,
    logitsAt: number[],
    extra: { feeds?: TensorMap; fetches?: string[] } = {},
  ): Promise<{ logits: Float32Array[]; outputs: TensorMap }> {
    this.checkIds(ids);
    const feeds: TensorMap = {
      input_ids: int64([1, ids.length], ids),
      position_ids: int64([1, ids.length], ids.map((_, i) => start + i)),
      logits_positions: int64([logitsAt.length], logitsAt),
      ...extra.feeds,
    };
    const { outputs } = await session.run(feeds, ['logits', ...(extra.fetches ?? [])], cache);
    const logits = outputs.logits.data as Float32Array;
    const vocab = this.spec.dVocab;
    return { logits: logitsAt.map((_, i) => logits.slice(i * vocab, (i + 1) * vocab)), outputs };
  }

  /** One forward pass over `ids` from an empty cache; logits for every position or only the last. */
  async forward(ids: number[], positions: 'all' | 'last' = 'all'): Promise<Float32Array[]> {
    const cache = await this.newCache();
    try {
      const at = positions === 'all' ? ids.map((_, i) => i) : [ids.length - 1];
      return (await this.runGraph(this.session, cache, ids, 0, at)).logits;
    } finally {
      await cache.release();
    }
  }

  /** A StepModel over a fresh KV cache; release() frees the cache. */
  async createStepModel(): Promise<StepModel & { release(): Promise<void> }> {
    const cache = await this.newCache();
    let length = 0;
    return {
      vocabSize: this.spec.dVocab,
      maxPositions: this.spec.nCtx,
      reset: () => {
        length = 0;
        void cache.reset(); // ordered before any later run by the worker's queue
      },
      feed: async (ids) => {
        const [logits] = (await this.runGraph(this.session, cache, ids, length, [ids.length - 1])).logits;
        length += ids.length;
        return logits;
      },
      release: async () => {
        await cache.release();
      },
    };
  }

  async *generate(promptIds: number[], settings: GenerationSettings, options: { signal?: AbortSignal } = {}): AsyncGenerator<GenerationEvent, GenerationResult> {
    const model = await this.createStepModel();
    try {
      return yield* generate(model, this.tokenizer, promptIds, settings, options);
    } finally {
      await model.release();
    }
  }

  /**
   * One forward pass over `ids` with a plan: logits at every position and the plan's
   * captures keyed by hook name. The plan is validated against this model first.
   */
  async run(ids: number[], planInput: unknown = {}): Promise<{ logits: Float32Array[]; captures: Record<string, CaptureResult> }> {
    const plan: Plan = validatePlan(this.spec, planInput);
    const session = await this.plans.session(plan);
    const cache = await this.newCache();
    try {
      const run = { start: 0, count: ids.length, promptLength: ids.length };
      const allPositions = ids.map((_, i) => i);
      const { logits, outputs } = await this.runGraph(session, cache, ids, 0, allPositions, { feeds: planFeeds(plan, run), fetches: captureFetches(plan) });
      const captures: Record<string, CaptureResult> = {};
      for (const capture of plan.captures) {
        captures[capture.hook] = shapeCapture(this.spec, capture.hook, outputs[captureOutput(capture.hook)], capture.positions, run);
      }
      return { logits, captures };
    } finally {
      await cache.release();
    }
  }

  /**
   * Generate every variant from the same prompt and settings (same seed), each with its
   * own plan and decoding strategy; tokens of all variants interleave in the stream.
   * Returns one result per variant, in order.
   */
  async *generateVariants(
    promptIds: number[],
    settings: GenerationSettings,
    variants: VariantRun[],
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<VariantTokenEvent, GenerationResult[]> {
    const results: GenerationResult[] = [];
    for (const [variant, run] of variants.entries()) {
      const plan = validatePlan(this.spec, run.plan ?? {});
      const decoding = decodingSchema.parse(run.decoding ?? { strategy: 'greedy' });
      if (plan.interventions.length > 0 || plan.captures.length > 0 || decoding.strategy !== 'greedy') {
        throw new EngineError('bad_plan', 'plans and lens decoding during generation are not supported yet');
      }
      const stream = this.generate(promptIds, settings, options);
      for (;;) {
        const next = await stream.next();
        if (next.done) {
          results.push(next.value);
          break;
        }
        yield { variant, token: next.value, decoding: null };
      }
    }
    return results;
  }

  async unload(): Promise<void> {
    await this.plans.releaseAll();
    await this.session.release();
  }
}
