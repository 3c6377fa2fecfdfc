/**
 * The engine: loads a checkpoint, writes its graph-layout weights to the cache once,
 * compiles the family's ONNX graph and runs it in the inference worker. The CLI, the
 * WebSocket server and the app all reach it through api.ts.
 */
import { freemem } from 'node:os';
import { defaultCacheDir, modelCacheDir, weightFileKey } from './cache-dir';
import { EngineError } from './errors';
import { graphOutput } from './graph-io';
import type { GenerationResult, TokenEvent } from './generate/generate';
import type { GenerationSettings } from './generate/settings';
import type { StepModel } from './generate/step-model';
import { graphWeights } from './graph/forward';
import { ensureWeightFile, weightCacheBytes, type ConversionProgress, type WeightManifest } from './graph/weights-file';
import type { ModelProtoData } from './graph/onnx-proto';
import { WeightRows } from './graph/weight-rows';
import type { TensorMap } from './runtime/tensor';
import { planWarnings, validatePlan, validateRunPositions, type Plan } from './hooks/plan';
import { issueText } from './hooks/schedule';
import { type LensHead } from './graph/taps';
import { type CaptureResult } from './plan/captures';
import { PlanSessions, type Lease } from './plan/compile';
import type { RowPlan } from './plan/feeds';
import { PatchSources } from './plan/patch-sources';
import { PlanBatch, rowsOf, type RowsRunResult } from './plan/batch';
import { generateVariants, type BatchModel, type VariantRun, type VariantTokenEvent } from './plan/variants';
import { weightsFingerprint } from './model/fingerprint';
import { openModel, type LoadedModel } from './model/load';
import { checkMemory } from './model/memory';
import { slidingWindows, type ModelSpec } from './model/spec';
import { F32_WEIGHTS, type WeightOptions } from './model/weight-format';
import type { TextTokenizer } from './model/tokenizer/types';
import type { ExecutionProvider } from './runtime/protocol';
import { Runtime, type KvCacheHandle } from './runtime/runtime';

export type { RowsRunResult } from './plan/batch';
export type { VariantRun, VariantTokenEvent } from './plan/variants';

/** One forward pass with a plan: logits per position, captures by hook, plan lens logits by block. */
export interface PlanRunResult {
  logits: Float32Array[];
  captures: Record<string, CaptureResult>;
  lens: Record<number, Float32Array[]>;
  /** "path: message" for each part of the plan that has no effect (e.g. an intervention in a block the schedule skips). */
  warnings: string[];
}

export interface LoadOptions {
  /** Weight format (default float32: exact parity with the references). */
  weights?: WeightOptions;
  /** Called as the first load converts the checkpoint into the cached weight file. */
  onProgress?: (progress: ConversionProgress) => void;
  /** Memory the model may use (default: what the OS reports available); a model that needs more is refused. */
  availableBytes?: number;
}

export interface EngineOptions {
  /** Where graph-layout weights and compiled graphs are cached (default: the user's cache folder). */
  cacheDir?: string;
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** Idle inference threads spin (default true: fastest on an otherwise idle machine). Interactive hosts turn it off. */
  spinning?: boolean;
}

const EMPTY_PLAN: Plan = { captures: [], interventions: [] };

/** A runRowsKept run whose KV cache is still held: later runs can start after a prefix of one of its rows. */
export interface KeptRun {
  readonly batch: PlanBatch;
  /** Its batch rows, and the positions each holds. */
  readonly rows: number;
  readonly length: number;
  release(): Promise<void>;
}

export interface RunRowsOptions {
  lenses?: LensHead[];
  logitsAt?: number[];
  fetches?: string[];
  /** Where generated positions start, for plans that select them (default: every fed position is prompt). */
  promptLength?: number;
  /**
   * Start after the first `length` positions of row `row` of a kept run, which these rows
   * would compute as it did. `firstSlot`: the kept run's KV slot the plan's first slot
   * reads (default 0; the first block of a schedule that skips the blocks before it).
   */
  after?: { run: KeptRun; row: number; length: number; firstSlot?: number };
}


export class Engine {
  private readonly runtime: Runtime;
  private readonly cacheDir: string;
  private readonly executionProvider: ExecutionProvider;

  private constructor(options: EngineOptions) {
    this.runtime = new Runtime({ threads: options.threads, spinning: options.spinning });
    this.cacheDir = options.cacheDir ?? defaultCacheDir();
    this.executionProvider = options.executionProvider ?? 'cpu';
  }

  static create(options: EngineOptions = {}): Engine {
    return new Engine(options);
  }

  async loadModel(path: string, options: { tokenizerPath?: string } & LoadOptions = {}): Promise<ModelHandle> {
    return this.loadOpened(await openModel(path, options), options);
  }

  /**
   * Build a model already opened (and so checked) by openModel: cache its graph-layout
   * weights in the requested format (converted once, per model and format) and compile
   * the plain forward pass. Closes the checkpoint files either way.
   */
  async loadOpened(loaded: LoadedModel, options: LoadOptions = {}): Promise<ModelHandle> {
    try {
      const weights = options.weights ?? F32_WEIGHTS;
      checkMemory(loaded.spec, weights, options.availableBytes ?? freemem(), loaded.path);
      const fingerprint = weightsFingerprint(loaded.weights.files);
      const dir = modelCacheDir(this.cacheDir, fingerprint, weights);
      const groups = graphWeights(loaded.spec, loaded.weights, weights);
      const manifest = ensureWeightFile(dir, weightFileKey(fingerprint), weights, groups, options.onProgress);
      const plans = new PlanSessions(this.runtime, loaded.spec, manifest, dir, this.executionProvider);
      const base = await plans.acquire(EMPTY_PLAN); // held for the model's life: the plain forward pass
      return new ModelHandle(this.runtime, loaded, base, plans, fingerprint, weights, weightCacheBytes(dir), { dir, manifest });
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
  /** Source runs of patches, run once with this model's plain forward pass and kept. */
  private readonly sources = new PatchSources((hook, ids) => this.run(ids, { captures: [{ hook, positions: 'all' }] }).then((result) => result.captures[hook].data));

  constructor(
    private readonly runtime: Runtime,
    loaded: LoadedModel,
    private readonly base: Lease,
    private readonly plans: PlanSessions,
    /** Sampled fingerprint of the checkpoint files (model/fingerprint.ts). */
    readonly fingerprint: string,
    /** How the weights are stored: float32, or quantized linear layers (model/weight-format.ts). */
    readonly weights: WeightOptions,
    /** Bytes of this model's cached weight file in that format. */
    readonly cacheBytes: number,
    /** This model's cache folder (one per checkpoint and weight format, cache-dir.ts) and its weight file's manifest. */
    private readonly weightFile: { dir: string; manifest: WeightManifest },
  ) {
    this.spec = loaded.spec;
    this.tokenizer = loaded.tokenizer;
    this.format = loaded.format;
    this.path = loaded.path;
  }

  /** The execution provider the model runs on, and why another was not used. */
  get provider(): ExecutionProvider {
    return this.base.compiled.session.provider;
  }

  get fallbackReason(): string | null {
    return this.base.compiled.session.info.fallbackReason;
  }

  /** Compiled plan sessions held, and an upper bound on their memory (plan/compile.ts). */
  sessionUsage(): { sessions: number; graphBytes: number; estimatedBytes: number } {
    return this.plans.usage();
  }

  private newCache(slots: number, batch: number, maxPositions = this.spec.nCtx): Promise<KvCacheHandle> {
    const { nKvHeads, dHead } = this.spec;
    return this.runtime.createKvCache({ slots, batch, nKvHeads, dHead, maxPositions, windows: slidingWindows(this.spec) });
  }

  private checkIds(ids: readonly number[]): void {
    if (ids.length === 0) throw new EngineError('bad_argument', 'no input tokens');
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= this.spec.dVocab);
    if (bad !== undefined) throw new EngineError('bad_argument', `token id ${bad} is outside the vocabulary (0..${this.spec.dVocab - 1})`);
  }

  /** A batch of rows over one compiled plan and one KV cache; release() frees the cache. */
  private async openBatch(lease: Lease, rows: RowPlan[], maxPositions?: number): Promise<PlanBatch> {
    return new PlanBatch(this.spec, lease, await this.newCache(lease.compiled.slots, rows.length, maxPositions), rows);
  }

  /**
   * One forward pass of several batch rows over one compiled plan, from an empty cache:
   * the primitive the analyses (engine/analysis/) batch their sweeps on. `plan` is
   * validated and gives the structure; row r feeds `ids[r]` (all of one length) with the
   * values of `rows[r]` (its own plan of that structure, its active interventions, its
   * patch rows). Returns per row the logits at `logitsAt` (indices into the fed tokens),
   * and the fetched outputs (captures of `plan`, lens heads) with the run's positions.
   *
   * With `after`, every row starts after the first `length` positions of row `row` of a
   * kept run (runRowsKept) instead of from an empty cache: `ids` are then the tokens from
   * position `length` on, and the rows compute only those.
   */
  async runRows(plan: Plan, rows: RowPlan[], ids: number[][], options: RunRowsOptions = {}): Promise<RowsRunResult> {
    const { result, batch } = await this.feedRows(plan, rows, ids, options);
    await batch.release();
    return result;
  }

  /** runRows, keeping the run's KV cache for later runRows calls to start `after` (release it when done). */
  async runRowsKept(plan: Plan, rows: RowPlan[], ids: number[][], options: RunRowsOptions = {}): Promise<{ result: RowsRunResult; kept: KeptRun }> {
    const { result, batch } = await this.feedRows(plan, rows, ids, options);
    return { result, kept: { batch, rows: rows.length, length: ids[0].length + (options.after?.length ?? 0), release: () => batch.release() } };
  }

  private async feedRows(plan: Plan, rows: RowPlan[], ids: number[][], options: RunRowsOptions): Promise<{ result: RowsRunResult; batch: PlanBatch }> {
    if (rows.length === 0 || rows.length !== ids.length) throw new EngineError('bad_argument', `runRows: ${rows.length} rows for ${ids.length} token lists`);
    for (const row of ids) this.checkIds(row);
    if (ids.some((row) => row.length !== ids[0].length)) throw new EngineError('bad_argument', 'runRows: every row must feed the same number of tokens');
    const { after } = options;
    if (after && (after.row < 0 || after.row >= after.run.rows || after.length > after.run.length)) {
      throw new EngineError('bad_argument', `runRows: a prefix of ${after.length} positions of row ${after.row} asked; the kept run has ${after.run.rows} rows of ${after.run.length}`);
    }
    const lenses = options.lenses ?? [];
    const lease = await this.plans.acquire(plan, lenses);
    try {
      const start = after?.length ?? 0;
      const batch = await this.openBatch(lease, rows, start + ids[0].length);
      try {
        if (after) await batch.startAfter(after.run.batch, after.row, after.length, after.firstSlot);
        const logitsAt = options.logitsAt ?? [ids[0].length - 1];
        const fetches = [...lenses.map((lens) => lens.name), ...(options.fetches ?? [])];
        return { result: await batch.feed(ids, options.promptLength ?? start + ids[0].length, logitsAt, fetches), batch };
      } catch (error) {
        await batch.release();
        throw error;
      }
    } finally {
      lease.done();
    }
  }

  /** The folder this model's derived files are cached in: one per checkpoint fingerprint and weight format. */
  get cacheFolder(): string {
    return this.weightFile.dir;
  }

  /** The stored weights read back as float32 directions (MLP neurons, token unembeddings), for the neuron atlas. */
  weightRows(): WeightRows {
    return new WeightRows(this.weightFile.dir, this.weightFile.manifest, this.spec);
  }

  /**
   * One run of a graph other than the forward pass over this model's weights (the neuron
   * atlas): built by `build` on first use of `key`, then cached with the plan sessions.
   */
  async runGraph(key: string, build: (spec: ModelSpec, manifest: WeightManifest) => ModelProtoData, feeds: TensorMap, fetches: string[]): Promise<TensorMap> {
    const lease = await this.plans.acquireGraph(key, build);
    try {
      return (await lease.compiled.session.run(feeds, fetches)).outputs;
    } finally {
      lease.done();
    }
  }

  /** One forward pass over `ids` from an empty cache; logits for every position or only the last. */
  async forward(ids: number[], positions: 'all' | 'last' = 'all'): Promise<Float32Array[]> {
    this.checkIds(ids);
    const batch = await this.openBatch(this.base, [{ plan: EMPTY_PLAN, patches: new Map() }]);
    try {
      const at = positions === 'all' ? ids.map((_, i) => i) : [ids.length - 1];
      return (await batch.feed([ids], ids.length, at, [])).logits[0];
    } finally {
      await batch.release();
    }
  }

  /** A StepModel over a fresh KV cache; release() frees the cache. */
  async createStepModel(): Promise<StepModel & { release(): Promise<void> }> {
    const batch = await this.openBatch(this.base, [{ plan: EMPTY_PLAN, patches: new Map() }]);
    return {
      vocabSize: this.spec.dVocab,
      maxPositions: this.spec.nCtx,
      reset: () => batch.reset(),
      feed: async (ids) => {
        this.checkIds(ids);
        return (await batch.feed([[...ids]], Infinity, [ids.length - 1], [])).logits[0][0];
      },
      release: () => batch.release(),
    };
  }

  /**
   * Plain generation: the batched variants loop (plan/variants.ts) with one variant and no
   * plan, so the parity tests check the loop the app runs.
   */
  async *generate(promptIds: number[], settings: GenerationSettings, options: { signal?: AbortSignal } = {}): AsyncGenerator<TokenEvent, GenerationResult> {
    const stream = this.generateVariants(promptIds, settings, [{}], options);
    try {
      let step = await stream.next();
      while (!step.done) {
        yield step.value.token;
        step = await stream.next();
      }
      return step.value[0];
    } finally {
      await stream.return([]); // releases the batch when the caller stops early
    }
  }

  /** Generate every variant side by side (plan/variants.ts). */
  generateVariants(promptIds: number[], settings: GenerationSettings, variants: VariantRun[], options: { signal?: AbortSignal } = {}): AsyncGenerator<VariantTokenEvent, GenerationResult[]> {
    const model: BatchModel = {
      spec: this.spec,
      tokenizer: this.tokenizer,
      acquire: (plan, lenses) => this.plans.acquire(plan, lenses),
      openBatch: (lease, rows) => this.openBatch(lease, rows),
      rowPlan: (plan, active, lensLambdas) => this.sources.rowPlan(plan, active, lensLambdas),
    };
    return generateVariants(model, promptIds, settings, variants, options);
  }

  /**
   * One forward pass over `ids` with a plan: logits at every position, the plan's
   * captures keyed by hook name, and its lens logits by block. The plan is validated
   * against this model first, and its explicit positions and patch rows against `ids`.
   */
  async run(ids: number[], planInput: unknown = {}, options: { promptLength?: number } = {}): Promise<PlanRunResult> {
    const plan: Plan = validatePlan(this.spec, planInput);
    this.checkIds(ids);
    // promptLength < ids.length treats the rest as generated (for "generated" positions).
    validateRunPositions(plan, { start: 0, count: ids.length, promptLength: options.promptLength ?? ids.length });
    const row = await this.sources.rowPlan(plan);
    const lease = await this.plans.acquire(plan);
    try {
      const batch = await this.openBatch(lease, [row]);
      try {
        const all = ids.map((_, i) => i);
        const lensLayers = plan.interventions.flatMap((step) => (step.op === 'lens' ? step.layers : []));
        const lensNames = [...new Set(lensLayers)].map(graphOutput.planLens);
        const { logits, outputs, run } = await batch.feed([ids], options.promptLength ?? ids.length, all, lensNames);
        const lens: Record<number, Float32Array[]> = {};
        for (const layer of new Set(lensLayers)) lens[layer] = rowsOf(outputs[graphOutput.planLens(layer)].data as Float32Array, 0, ids.length, this.spec.dVocab);
        return { logits: logits[0], captures: batch.captures(plan, 0, outputs, run), lens, warnings: planWarnings(plan).map(issueText) };
      } finally {
        await batch.release();
      }
    } finally {
      lease.done();
    }
  }

  /**
   * One forward pass over `ids` with a plan (validated, its patch sources run as in run())
   * and extra lens heads read at `logitsAt`; `promptLength` says where generated positions
   * start. Returns the lens heads' outputs by name (internal consistency).
   */
  async runLenses(ids: number[], planInput: unknown, lenses: LensHead[], options: { promptLength: number; logitsAt: number[] }): Promise<TensorMap> {
    const plan: Plan = validatePlan(this.spec, planInput);
    this.checkIds(ids);
    validateRunPositions(plan, { start: 0, count: ids.length, promptLength: options.promptLength });
    const row = await this.sources.rowPlan(plan);
    return (await this.runRows(plan, [row], [ids], { lenses, ...options })).outputs;
  }

  async unload(): Promise<void> {
    this.base.done();
    await this.plans.releaseAll();
  }
}
