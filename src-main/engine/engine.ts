/**
 * The engine: loads a checkpoint, writes its graph-layout weights to the cache once,
 * compiles the family's ONNX graph and runs it in the inference worker. The CLI, the
 * WebSocket server and the app all reach it through api.ts.
 */
import { freemem, homedir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from './errors';
import type { DecodingInput, DecodingStep } from '../../src-shared/decoding-schema';
import { patchLengthIssues } from '../../src-shared/patch-length';
import { checkPrompt, generate, Sequence, type GenerationEvent, type GenerationResult, type TokenEvent } from './generate/generate';
import { decodingReport, stepScorer } from './generate/scorers';
import type { GenerationSettings } from './generate/settings';
import type { StepModel } from './generate/step-model';
import { graphWeights } from './graph/forward';
import { ensureWeightFile, weightCacheBytes, type ConversionProgress } from './graph/weights-file';
import { planWarnings, validatePlan, validateRunPositions, type Plan } from './hooks/plan';
import { issueText, planScheduleBlocks, scheduleReport } from './hooks/schedule';
import type { RunPositions } from './hooks/positions';
import { captureOutput, type LensHead } from './graph/taps';
import { shapeCapture, type CaptureResult } from './plan/captures';
import { PlanSessions, planLensOutput, type Lease } from './plan/compile';
import { patchRowsFromValues, planFeeds, type PatchRows, type RowPlan } from './plan/feeds';
import { unionPlan } from './plan/union';
import { weightsFingerprint } from './model/fingerprint';
import { openModel, type LoadedModel } from './model/load';
import { checkMemory } from './model/memory';
import type { ModelSpec } from './model/spec';
import { F32_WEIGHTS, weightOptionsLabel, type WeightOptions } from './model/weight-format';
import type { TextTokenizer } from './model/tokenizer/types';
import type { ExecutionProvider } from './runtime/protocol';
import { Runtime, type KvCacheHandle } from './runtime/runtime';
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
  /** The variant plan's captures at the positions this step fed (the prompt at the first token). */
  captures: Record<string, CaptureResult>;
  /**
   * The logprob variants[0] (the baseline) gave this token at the same step in the same
   * context (every earlier generated token equal), so a UI can show how much a variant
   * changed it; null for the baseline itself, once it stopped, and after the first token
   * where the two differ (the contexts are no longer the same).
   */
  baselineLogprob: number | null;
}

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

/** Bumped whenever the weight layout or graph changes, so stale caches are not reused. */
const GRAPH_VERSION = 'decoder-1';
const EMPTY_PLAN: Plan = { captures: [], interventions: [] };
/** Source runs of patches, kept so re-running a variant does not recompute them. */
const MAX_CACHED_SOURCES = 16;

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
      const dir = join(this.cacheDir, 'models', `${fingerprint.slice(0, 24)}-${GRAPH_VERSION}-${weightOptionsLabel(weights)}`);
      const groups = graphWeights(loaded.spec, loaded.weights, weights);
      const manifest = ensureWeightFile(dir, `${fingerprint}:${GRAPH_VERSION}`, weights, groups, options.onProgress);
      const plans = new PlanSessions(this.runtime, loaded.spec, manifest, dir, this.executionProvider);
      const base = await plans.acquire(EMPTY_PLAN); // held for the model's life: the plain forward pass
      return new ModelHandle(this.runtime, loaded, base, plans, fingerprint, weights, weightCacheBytes(dir));
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
  private readonly sources = new Map<string, Promise<Float32Array>>();

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
    return this.runtime.createKvCache({ slots, batch, nKvHeads, dHead, maxPositions });
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
   */
  async runRows(plan: Plan, rows: RowPlan[], ids: number[][], options: { lenses?: LensHead[]; logitsAt?: number[]; fetches?: string[] } = {}): Promise<RowsRunResult> {
    if (rows.length === 0 || rows.length !== ids.length) throw new EngineError('bad_argument', `runRows: ${rows.length} rows for ${ids.length} token lists`);
    for (const row of ids) this.checkIds(row);
    if (ids.some((row) => row.length !== ids[0].length)) throw new EngineError('bad_argument', 'runRows: every row must feed the same number of tokens');
    const lenses = options.lenses ?? [];
    const lease = await this.plans.acquire(plan, lenses);
    try {
      const batch = await this.openBatch(lease, rows, ids[0].length);
      try {
        const logitsAt = options.logitsAt ?? [ids[0].length - 1];
        const fetches = [...lenses.map((lens) => lens.name), ...(options.fetches ?? [])];
        return await batch.feed(ids, ids[0].length, logitsAt, fetches);
      } finally {
        await batch.release();
      }
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

  async *generate(promptIds: number[], settings: GenerationSettings, options: { signal?: AbortSignal } = {}): AsyncGenerator<GenerationEvent, GenerationResult> {
    const model = await this.createStepModel();
    try {
      return yield* generate(model, this.tokenizer, promptIds, settings, options);
    } finally {
      await model.release();
    }
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
    const row = await this.rowPlan(plan);
    const lease = await this.plans.acquire(plan);
    try {
      const batch = await this.openBatch(lease, [row]);
      try {
        const all = ids.map((_, i) => i);
        const lensLayers = plan.interventions.flatMap((step) => (step.op === 'lens' ? step.layers : []));
        const lensNames = [...new Set(lensLayers)].map(planLensOutput);
        const { logits, outputs, run } = await batch.feed([ids], options.promptLength ?? ids.length, all, lensNames);
        const lens: Record<number, Float32Array[]> = {};
        for (const layer of new Set(lensLayers)) lens[layer] = rowsOf(outputs[planLensOutput(layer)].data as Float32Array, 0, ids.length, this.spec.dVocab);
        return { logits: logits[0], captures: batch.captures(plan, 0, outputs, run), lens, warnings: planWarnings(plan).map(issueText) };
      } finally {
        await batch.release();
      }
    } finally {
      lease.done();
    }
  }

  /** A plan's row: patches from a source prompt are run (clean) once and cached; a patch with no effect is not. */
  private async rowPlan(plan: Plan, active?: ReadonlySet<number>, lensLambdas?: Map<string, number>): Promise<RowPlan> {
    const patches = new Map<number, PatchRows>();
    const { inert } = scheduleReport(plan);
    for (const [index, step] of plan.interventions.entries()) {
      if (step.op !== 'patch' || (active && !active.has(index)) || inert.has(index)) continue;
      if (!('prompt_ids' in step.source)) {
        patches.set(index, patchRowsFromValues(step));
        continue;
      }
      const ids = step.source.prompt_ids;
      const data = await this.sourceActivations(step.hook, ids);
      const width = data.length / ids.length;
      patches.set(index, (position) => (position < ids.length ? data.subarray(position * width, (position + 1) * width) : null));
    }
    return { plan, active, patches, lensLambdas };
  }

  /** The clean run's activations at `hook` over `ids`, every position: [n_positions * width]. */
  private sourceActivations(hook: string, ids: number[]): Promise<Float32Array> {
    const key = JSON.stringify([hook, ids]);
    let cached = this.sources.get(key);
    if (!cached) {
      cached = this.run(ids, { captures: [{ hook, positions: 'all' }] }).then((result) => result.captures[hook].data);
      cached.catch(() => this.sources.delete(key));
      this.sources.set(key, cached);
      if (this.sources.size > MAX_CACHED_SOURCES) this.sources.delete(this.sources.keys().next().value as string);
    }
    return cached;
  }

  /**
   * Generate every variant from the same prompt and settings (same seed), each with its
   * own plan and decoding strategy. Variants that share a block schedule run as rows of
   * one batch: their interventions are compiled together and each row feeds values only
   * for its own, so the baseline and N variants advance in one forward pass per step.
   * Tokens of all variants interleave in the stream; returns one result per variant.
   */
  async *generateVariants(
    promptIds: number[],
    settings: GenerationSettings,
    variants: VariantRun[],
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<VariantTokenEvent, GenerationResult[]> {
    if (variants.length === 0) throw new EngineError('bad_argument', 'no variants to generate');
    checkPrompt(promptIds, { maxPositions: this.spec.nCtx, vocabSize: this.spec.dVocab });
    // Errors name the variant only when there are several ("variant 0" means nothing to a caller that sent one plan).
    const label = (i: number): string => (variants.length > 1 ? `variant ${i}: ` : '');
    const plans = variants.map((variant, i) => validateVariantPlan(this.spec, variant.plan, label(i)));
    // The checks validateVariant shares: errors refuse the request, warnings go with each result.
    const warnings = plans.map((plan, i) => {
      const decoding = decodingReport(this.spec, variants[i].decoding, planScheduleBlocks(plan));
      if (decoding.errors.length > 0) {
        const list = decoding.errors.map((issue) => `decoding.${issueText(issue)}`).join('; ');
        throw new EngineError('bad_plan', `${label(i)}${list}`, { issues: decoding.errors.map((issue) => ({ ...issue, path: `decoding.${issue.path}` })) });
      }
      const patches = patchLengthIssues(plan.interventions, promptIds.length);
      return [...planWarnings(plan).map(issueText), ...patches.map(issueText), ...decoding.warnings.map((issue) => `decoding.${issueText(issue)}`)];
    });
    const scorers = variants.map((variant) => stepScorer(this.spec, variant.decoding));
    const sequences = variants.map(() => new Sequence(this.tokenizer, promptIds, settings, this.spec.nCtx));
    // Per variant: it has generated a token the baseline did not (at the same step), so their contexts differ from then on.
    const diverged = variants.map(() => false);
    const groups: VariantGroup[] = [];
    try {
      for (const members of groupBySchedule(plans)) {
        const union = unionPlan(members.map((i) => plans[i]));
        const lenses = uniqueLenses(members.flatMap((i) => scorers[i].lenses));
        const rows = await Promise.all(members.map((i, r) => this.rowPlan(union.plan, union.active[r], scorers[i].lambdas)));
        const lease = await this.plans.acquire(union.plan, lenses);
        try {
          groups.push({ members, batch: await this.openBatch(lease, rows), lease, lenses });
        } catch (error) {
          lease.done();
          throw error;
        }
      }
      const { signal } = options;
      if (signal?.aborted) sequences.forEach((sequence) => sequence.cancel());
      let fed = (group: VariantGroup) => group.members.map(() => promptIds);
      while (sequences.some((sequence) => !sequence.stopReason)) {
        for (const group of groups) {
          if (group.members.every((i) => sequences[i].stopReason)) continue;
          const started = performance.now();
          const ids = fed(group);
          const { logits, outputs, run } = await group.batch.feed(ids, promptIds.length, [ids[0].length - 1], group.lenses.map((lens) => lens.name));
          const feedMs = performance.now() - started; // shared by the rows; each adds its own scoring
          for (const [r, i] of group.members.entries()) {
            const sequence = sequences[i];
            if (sequence.stopReason) continue;
            const rowStarted = performance.now();
            const lens = (name: string) => rowsOf(outputs[name].data as Float32Array, r, 1, this.spec.dVocab)[0];
            const { scores, step } = scorers[i].score(logits[r][0], lens, sequence.ids);
            const token = sequence.choose(scores, feedMs + performance.now() - rowStarted, signal, { penalized: scorers[i].penalized });
            // The baseline is the first row of the first group, so its step is already chosen.
            // Its logprob of this token compares like with like only while both saw the same
            // tokens: after the first differing token the contexts differ, and nothing is reported.
            const step0 = sequence.generatedIds.length - 1;
            const comparable = i > 0 && !diverged[i] && sequences[0].generatedIds.length === step0 + 1;
            const baselineLogprob = comparable ? (sequences[0].lastLogprobs?.[token.id] ?? null) : null;
            if (i > 0 && sequences[0].generatedIds[step0] !== token.id) diverged[i] = true;
            yield { variant: i, token, decoding: step, captures: group.batch.captures(plans[i], r, outputs, run), baselineLogprob };
          }
        }
        if (signal?.aborted) sequences.forEach((sequence) => sequence.cancel());
        // Rows that stopped keep feeding their last token so the batch stays in step; nothing reads them.
        fed = (group) => group.members.map((i) => [sequences[i].ids[sequences[i].ids.length - 1]]);
      }
      return sequences.map((sequence, i) => ({ ...sequence.result(), warnings: warnings[i] }));
    } finally {
      for (const group of groups) {
        await group.batch.release();
        group.lease.done();
      }
    }
  }

  async unload(): Promise<void> {
    this.base.done();
    await this.plans.releaseAll();
  }
}

/** What runRows returns: logits[row][i] at the i-th requested position, and the fetched outputs. */
export interface RowsRunResult {
  logits: Float32Array[][];
  outputs: TensorMap;
  run: RunPositions;
}

interface VariantGroup {
  members: number[]; // variant indices, one batch row each
  batch: PlanBatch;
  lease: Lease;
  lenses: LensHead[];
}

function validateVariantPlan(spec: ModelSpec, plan: unknown, label: string): Plan {
  try {
    return validatePlan(spec, plan ?? {});
  } catch (error) {
    if (error instanceof EngineError) throw new EngineError(error.code, `${label}${error.message}`, error.details);
    throw error;
  }
}

/** Variants with the same block schedule can share a graph; different schedules cannot. */
function groupBySchedule(plans: Plan[]): number[][] {
  const groups = new Map<string, number[]>();
  plans.forEach((plan, i) => {
    const key = JSON.stringify(planScheduleBlocks(plan));
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  return [...groups.values()];
}

function uniqueLenses(lenses: LensHead[]): LensHead[] {
  return [...new Map(lenses.map((lens) => [lens.name, lens])).values()];
}

/** Rows `row` of a [batch, n, width] tensor, as n arrays. */
function rowsOf(data: Float32Array, row: number, n: number, width: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => data.slice((row * n + i) * width, (row * n + i + 1) * width));
}

/**
 * Rows of one compiled plan advancing together over one KV cache. All rows are fed the
 * same number of tokens at the same positions, so one causal mask serves them all.
 */
class PlanBatch {
  private length = 0; // positions in the cache

  constructor(
    private readonly spec: ModelSpec,
    private readonly lease: Lease,
    private readonly cache: KvCacheHandle,
    private readonly rows: RowPlan[],
  ) {}

  reset(): void {
    this.length = 0;
    void this.cache.reset(); // ordered before any later run by the worker's queue
  }

  /**
   * Feed `ids` (one list per row, equal lengths) after the cached positions. `promptLength`
   * tells the plan which positions are prompt and which generated. Returns logits rows
   * per batch row at `logitsAt` (indices into the fed tokens), and the fetched outputs.
   */
  async feed(ids: number[][], promptLength: number, logitsAt: number[], fetches: string[]): Promise<{ logits: Float32Array[][]; outputs: TensorMap; run: RunPositions }> {
    const seq = ids[0].length;
    const run: RunPositions = { start: this.length, count: seq, promptLength };
    const { compiled } = this.lease;
    const positions = ids[0].map((_, i) => run.start + i);
    const feeds: TensorMap = {
      input_ids: int64([ids.length, seq], ids.flat()),
      position_ids: int64([ids.length, seq], ids.flatMap(() => positions)),
      logits_positions: int64([logitsAt.length], logitsAt),
      ...planFeeds(this.spec, compiled.tapSpec, this.rows, run),
    };
    const captureNames = compiled.tapSpec.captures.map(captureOutput);
    const { outputs } = await compiled.session.run(feeds, ['logits', ...fetches, ...captureNames], this.cache);
    this.length += seq;
    const data = outputs.logits.data as Float32Array;
    const logits = ids.map((_, row) => rowsOf(data, row, logitsAt.length, this.spec.dVocab));
    return { logits, outputs, run };
  }

  /** `plan`'s captures for batch row `row`, from a feed's outputs. */
  captures(plan: Plan, row: number, outputs: TensorMap, run: RunPositions): Record<string, CaptureResult> {
    const captures: Record<string, CaptureResult> = {};
    for (const capture of plan.captures) captures[capture.hook] = shapeCapture(this.spec, capture.hook, outputs[captureOutput(capture.hook)], row, capture.positions, run);
    return captures;
  }

  release(): Promise<void> {
    return this.cache.release().then(() => undefined);
  }
}
