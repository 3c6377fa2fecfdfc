/**
 * The engine side of WorkbenchApi: one loaded model at a time on top of Engine, with
 * generation runs, vector helpers, experiment files and model downloads. Both transports
 * (the WebSocket server of `npm run serve`, the app's utility process) wrap one of these
 * with the shared dispatcher; tests call it directly.
 *
 * Requests are parsed with requestSchemas here, so a direct caller gets the same validation
 * and every default filled in; params the dispatcher already parsed are not parsed again.
 *
 * One generation at a time: a new generate request cancels the run in progress (the user
 * asked for new results, so the old ones are stale) and waits for it to wind down. The
 * cancelled run still ends with its 'done' event (stopReason 'cancelled') before the new
 * run's first token. Loading or unloading a model cancels the run the same way. A load
 * that fails leaves the model that was loaded before it in place.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { freemem, homedir } from 'node:os';
import { join } from 'node:path';
import { Engine, type EngineOptions, type ModelHandle } from '../engine';
import { EngineError, serializeError, type SerializedError } from '../errors';
import type { RecoveredSession } from '../experiment/autosave';
import type { Experiment, Variant } from '../experiment/schema';
import { hookInfo, listHooks, type HookInfo } from '../hooks/names';
import { openModel } from '../model/load';
import { adviseFormat } from '../model/memory';
import { F32_WEIGHTS, weightOptionsLabel } from '../model/weight-format';
import type { ConversionProgress } from '../graph/weights-file';
import { bundledCatalog, describeCatalog, type CatalogEntry } from './catalog';
import { ModelDownloads } from './download';
import { ExperimentStore } from './experiment-store';
import { GenerationRun } from './generation-run';
import { AnalysisRun } from './analysis-run';
import { BackgroundRun, RunSlot, updateFields } from './background-run';
import { writePatchExport } from '../analysis/export';
import { answerSet } from '../analysis/consistency';
import { compiledUsage, modelInfo } from './model-info';
import {
  parseParams,
  type CatalogModel,
  type EngineStatus,
  type ModelInfo,
  type ModelMemory,
  type RecentExperiment,
  type RequestOf,
  type VariantIssue,
  type WorkbenchApi,
  type WorkbenchEvent,
  type WorkbenchMethod,
  type ParamsOf,
} from './protocol';
import { variantIssues, variantReport } from './variant-issues';
import { dottedPath, issueLines, zodIssues } from '../../../src-shared/issues';
import { readVectorFile } from '../interchange/vector-file';
import { actAddForLibrary, exportVectors, extractForLibrary, functionVectorForLibrary, importVectors, saeDirection, saeFeatures, sweepVector, type ImportedVectors, type SaeSummary, type SweepAnswer } from './vectors';
import type { TokenFeatures } from '../interchange/sae-features';
import type { LibraryVector } from '../experiment/schema';

export interface WorkbenchOptions {
  /** Cache folder, threads, execution provider of the engine. */
  engine?: EngineOptions;
  /** The user's state: recent files, autosave, downloaded models (<appDataDir>/models). */
  appDataDir: string;
  transport: EngineStatus['transport'];
  /** The host shows native file dialogs (the app); pickPath is answered there, not here. */
  nativeDialogs?: boolean;
  /** Downloadable models; default resources/models.json. */
  catalog?: CatalogEntry[];
}

type Listener = (event: WorkbenchEvent) => void;

/** The model in use, and the tokenizer it was loaded with, so it can be loaded again. */
interface CurrentModel {
  handle: ModelHandle;
  info: ModelInfo;
  tokenizerPath: string | undefined;
}

function current(handle: ModelHandle, tokenizerPath: string | undefined): CurrentModel {
  return { handle, info: modelInfo(handle), tokenizerPath };
}

export class Workbench implements WorkbenchApi {
  private readonly engine: Engine;
  private readonly listeners = new Set<Listener>();
  private readonly downloads: ModelDownloads;
  private readonly experiments: ExperimentStore;
  private readonly catalog: CatalogEntry[];
  private readonly modelsDir: string;
  private loaded: CurrentModel | null = null;
  private state: EngineStatus['state'] = 'idle';
  private lastError: SerializedError | null = null;
  private run: GenerationRun | null = null;
  private readonly analyses = new RunSlot<AnalysisRun>();
  private readonly sweeps = new RunSlot<BackgroundRun<SweepAnswer>>();
  private readonly defaultDir = defaultExperimentDir();
  /** Model changes and run starts, one after another (see exclusive). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: WorkbenchOptions) {
    // A window shares the cores with inference: threads that spin while idle would starve it.
    this.engine = Engine.create({ spinning: false, ...options.engine });
    this.modelsDir = join(options.appDataDir, 'models');
    this.catalog = options.catalog ?? bundledCatalog();
    this.downloads = new ModelDownloads(this.modelsDir, (event) => this.emit(event));
    this.experiments = new ExperimentStore(options.appDataDir);
  }

  // ---------------------------------------------------------------- events and status

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: WorkbenchEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private snapshot(): EngineStatus {
    const model = this.loaded ? { ...this.loaded.info, compiled: compiledUsage(this.loaded.handle) } : null;
    return {
      state: this.state,
      model,
      error: this.lastError,
      transport: this.options.transport,
      nativeDialogs: this.options.nativeDialogs ?? false,
      defaultDir: this.defaultDir,
    };
  }

  private setState(state: EngineStatus['state'], error: SerializedError | null = this.lastError): void {
    this.state = state;
    this.lastError = error;
    this.emit({ type: 'status', status: this.snapshot() });
  }

  async status(request: RequestOf<'status'>): Promise<EngineStatus> {
    parse('status', request);
    return this.snapshot();
  }

  /** Only the app's engine process can crash and restart; here the engine is this process. */
  async restartEngine(request: RequestOf<'restartEngine'>): Promise<EngineStatus> {
    parse('restartEngine', request);
    return this.snapshot();
  }

  // ---------------------------------------------------------------- model

  async loadModel(request: RequestOf<'loadModel'>): Promise<ModelInfo> {
    const { path, tokenizerPath, weights } = parse('loadModel', request);
    const onProgress = (progress: ConversionProgress) => this.emit({ type: 'conversion', path, weights: weightOptionsLabel(weights ?? F32_WEIGHTS), ...progress });
    return this.changeModel(async () => {
      const previous = this.loaded;
      this.setState('loading', null);
      try {
        // Opening reads the config, the tokenizer and every weight header, so a wrong
        // path or a bad checkpoint fails here while the current model is still loaded.
        // Building the new model's sessions next to the old ones would be safer still,
        // but ORT prepacks weights per session: two large models at once may not fit.
        const opened = await openModel(path, { tokenizerPath });
        try {
          await this.release();
        } catch (error) {
          opened.weights.close(); // loadOpened closes them, but it will not run
          throw error;
        }
        try {
          this.loaded = current(await this.engine.loadOpened(opened, { weights, onProgress }), tokenizerPath);
        } catch (error) {
          // Past the checks (a full disk, onnxruntime refusing the graph): load the old one
          // back. Should that fail too, no model is loaded, and the status says so.
          if (previous) {
            this.loaded = await this.engine
              .loadModel(previous.handle.path, { tokenizerPath: previous.tokenizerPath, weights: previous.handle.weights })
              .then((handle) => current(handle, previous.tokenizerPath), () => null);
          }
          throw error;
        }
        this.setState('idle', null);
        return this.loaded.info;
      } catch (error) {
        this.setState('idle', serializeError(error));
        throw error;
      }
    });
  }

  async modelMemory(request: RequestOf<'modelMemory'>): Promise<ModelMemory> {
    const { path, tokenizerPath } = parse('modelMemory', request);
    const opened = await openModel(path, { tokenizerPath });
    opened.weights.close();
    const advice = adviseFormat(opened.spec, freemem());
    const needs = Object.fromEntries(Object.entries(advice.estimates).map(([format, estimate]) => [format, estimate.totalBytes])) as ModelMemory['needs'];
    return { needs, availableBytes: advice.availableBytes, recommended: advice.recommended, reason: advice.reason };
  }

  async unloadModel(request: RequestOf<'unloadModel'>): Promise<void> {
    parse('unloadModel', request);
    return this.changeModel(async () => {
      await this.release();
      this.setState('idle', null);
    });
  }

  private async release(): Promise<void> {
    const previous = this.loaded;
    this.loaded = null;
    if (previous) await previous.handle.unload();
  }

  /** Cancel any run, then `change` the model: no run ever sees a model being replaced. */
  private changeModel<T>(change: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      await this.stopRun();
      await this.analyses.stop();
      await this.sweeps.stop();
      return change();
    });
  }

  /**
   * Run `task` after every task queued before it. Model changes and run starts go through
   * here, so a run never starts on a model that is being replaced and two starts never
   * race past each other's cancellation.
   */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private model(): ModelHandle {
    if (!this.loaded) throw new EngineError('bad_argument', 'no model is loaded: load a model first');
    return this.loaded.handle;
  }

  async listHooks(request: RequestOf<'listHooks'>): Promise<HookInfo[]> {
    parse('listHooks', request);
    return listHooks(this.model().spec);
  }

  async tokenize(request: RequestOf<'tokenize'>): Promise<{ ids: number[]; tokens: string[] }> {
    const { text, chat } = parse('tokenize', request);
    const { tokenizer } = this.model();
    const ids = this.promptIds(text, chat);
    return { ids, tokens: ids.map((id) => (id < tokenizer.vocabSize ? tokenizer.tokenText(id) : '')) };
  }

  /** As the CLI does it: the chat template renders the special tokens itself, so none are added. */
  private promptIds(text: string, chat: boolean): number[] {
    const { tokenizer } = this.model();
    if (!chat) return tokenizer.encode(text);
    return tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true }), { addSpecialTokens: false });
  }

  // ---------------------------------------------------------------- vectors

  async embeddingVector(request: RequestOf<'embeddingVector'>): Promise<{ vector: number[]; tokenId: number }> {
    const { token } = parse('embeddingVector', request);
    const handle = this.model();
    const ids = handle.tokenizer.encode(token, { addSpecialTokens: false });
    if (ids.length !== 1) {
      const pieces = ids.map((id) => JSON.stringify(handle.tokenizer.tokenText(id))).join(' ');
      throw new EngineError('bad_argument', `${JSON.stringify(token)} encodes to ${ids.length} tokens${ids.length ? ` (${pieces})` : ''}; an embedding vector needs exactly one`);
    }
    const { captures } = await handle.run(ids, { captures: [{ hook: 'hook_embed', positions: 'last' }] });
    return { vector: Array.from(captures.hook_embed.data), tokenId: ids[0] };
  }

  async contrastVector(request: RequestOf<'contrastVector'>): Promise<{ vector: number[] }> {
    const { hook, positive, negative, reduce } = parse('contrastVector', request);
    const handle = this.model();
    const info = hookAt(handle, hook);
    // One row per position ([pos, width]) makes a position a vector; attention sites are not.
    if (info.dims.length !== 2 || info.dims[0] !== 'pos') {
      throw new EngineError('bad_argument', `a contrast vector needs a hook with one vector per position ([pos, width]); ${hook} is [${info.dims.join(', ')}]`);
    }
    const width = info.shape[1] as number;
    // 'mean' averages the text's own tokens: special tokens the tokenizer adds (BOS) look
    // the same in both prompts and would only dilute the difference.
    const promptVector = async (text: string): Promise<Float64Array> => {
      const ids = handle.tokenizer.encode(text);
      const added = ids.length - handle.tokenizer.encode(text, { addSpecialTokens: false }).length;
      const first = reduce === 'last' ? ids.length - 1 : Math.min(added, ids.length - 1);
      const { captures } = await handle.run(ids, { captures: [{ hook, positions: 'all' }] });
      const rows = captures[hook].data;
      const sum = new Float64Array(width);
      for (let pos = first; pos < ids.length; pos++) for (let i = 0; i < width; i++) sum[i] += rows[pos * width + i];
      return sum.map((value) => value / (ids.length - first));
    };
    const plus = await promptVector(positive);
    const minus = await promptVector(negative);
    return { vector: Array.from(plus, (value, i) => value - minus[i]) };
  }

  async extractVectors(request: RequestOf<'extractVectors'>): Promise<{ entries: LibraryVector['entries']; pairs: number; forwardPasses: number }> {
    return extractForLibrary(this.model(), parse('extractVectors', request));
  }

  async actAddVector(request: RequestOf<'actAddVector'>): Promise<{ entries: LibraryVector['entries']; positive: string[]; negative: string[] }> {
    return actAddForLibrary(this.model(), parse('actAddVector', request));
  }

  async functionVector(request: RequestOf<'functionVector'>): Promise<{ entries: LibraryVector['entries']; heads: { layer: number; head: number; norm: number }[]; forwardPasses: number }> {
    return functionVectorForLibrary(this.model(), parse('functionVector', request));
  }

  async importVectors(request: RequestOf<'importVectors'>): Promise<ImportedVectors> {
    return importVectors(parse('importVectors', request).path);
  }

  async exportVectors(request: RequestOf<'exportVectors'>): Promise<{ path: string }> {
    return exportVectors(parse('exportVectors', request));
  }

  async sweepVector(request: RequestOf<'sweepVector'>): Promise<{ sweepId: string }> {
    const parsed = parse('sweepVector', request);
    return this.exclusive(async () => {
      const handle = this.model();
      const run = await this.sweeps.replace(
        () =>
          new BackgroundRun<SweepAnswer>(
            (control) => sweepVector(handle, parsed, control),
            (sweepId, update) => {
              const { value, ...fields } = updateFields(update);
              this.emit({ type: 'sweep', sweepId, ...fields, answer: value });
            },
          ),
      );
      return { sweepId: run.id };
    });
  }

  async cancelSweep(request: RequestOf<'cancelSweep'>): Promise<void> {
    this.sweeps.cancel(parse('cancelSweep', request).sweepId);
  }

  async saeFeatures(request: RequestOf<'saeFeatures'>): Promise<{ sae: SaeSummary; tokens: TokenFeatures[] }> {
    return saeFeatures(this.model(), parse('saeFeatures', request));
  }

  async saeDirection(request: RequestOf<'saeDirection'>): Promise<{ sae: SaeSummary; hook: string; vector: number[]; norm: number }> {
    return saeDirection(this.model(), parse('saeDirection', request));
  }

  async readVectorFile(request: RequestOf<'readVectorFile'>): Promise<{ vector: number[]; key: string | null; keys: string[] }> {
    const { path, key } = parse('readVectorFile', request);
    return readVectorFile(path, key);
  }

  /** Schema problems, then (with a model loaded) hooks, widths, indices and lens layers against it. */
  async validateVariant(request: RequestOf<'validateVariant'>): Promise<{ issues: VariantIssue[] }> {
    const parsed = parseParams('validateVariant', request);
    if (!parsed.success) return { issues: zodIssues(parsed.error.issues).map((issue) => ({ ...issue, path: dottedPath(issue.path).replace(/^variant\.?/, '') })) };
    return { issues: variantIssues(this.loaded?.handle.spec ?? null, parsed.data.variant) };
  }

  // ---------------------------------------------------------------- generation

  async generate(request: RequestOf<'generate'>): Promise<{ runId: string; promptIds: number[]; variantIds: string[] }> {
    const { prompt, settings, consistency, variants: all, only } = parse('generate', request);
    const variants = runVariants(all, only);
    return this.exclusive(async () => {
      const handle = this.model();
      // Checked before the current run is touched: a bad request leaves it running.
      // Validated once here; the engine receives these plans and does not check them again.
      const plans = variants.map((variant, i) => {
        const report = variantReport(handle.spec, variant);
        const issues = report.issues.filter((issue) => issue.severity !== 'warning'); // warnings run
        if (issues.length > 0 || report.plan === null) {
          const list = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
          throw new EngineError('bad_plan', `variant ${i} (${variant.name}): ${list}`, { variant: i, issues });
        }
        return report.plan;
      });
      const promptIds = this.promptIds(prompt.text, prompt.chat);
      // Answers that are not tokens of this model are refused before the current run is touched.
      const answers = consistency.enabled && consistency.answers.length > 0 ? answerSet(handle.tokenizer, consistency.answers) : null;
      await this.stopRun();
      const run = new GenerationRun(handle, { promptIds, settings, variants, plans, consistency, answers }, (event) => this.emit(event));
      this.run = run;
      this.setState('generating');
      void run.finished.then(() => {
        if (this.run !== run) return;
        this.run = null;
        this.setState('idle');
      });
      return { runId: run.runId, promptIds, variantIds: variants.map((variant) => variant.id) };
    });
  }

  async cancel(request: RequestOf<'cancel'>): Promise<void> {
    const { runId } = parse('cancel', request);
    // A run that already finished has nothing left to cancel.
    if (this.run?.runId === runId) this.run.cancel();
  }

  // ---------------------------------------------------------------- analyses (Inside tab)

  async analyse(request: RequestOf<'analyse'>): Promise<{ analysisId: string }> {
    const { analysis } = parse('analyse', request);
    return this.exclusive(async () => {
      const handle = this.model();
      // An atlas comparison's other model is loaded for the run only, in the loaded model's weight format.
      const loadOther = (path: string) => this.engine.loadModel(path, { weights: handle.weights });
      const run = await this.analyses.replace(() => new AnalysisRun(handle, analysis, (event) => this.emit(event), loadOther));
      return { analysisId: run.analysisId };
    });
  }

  async cancelAnalysis(request: RequestOf<'cancelAnalysis'>): Promise<void> {
    this.analyses.cancel(parse('cancelAnalysis', request).analysisId);
  }

  async exportPatching(request: RequestOf<'exportPatching'>): Promise<{ path: string; format: 'csv' | 'safetensors' }> {
    const { path, result } = parse('exportPatching', request);
    return { path, format: writePatchExport(result, path) };
  }

  private async stopRun(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.cancel();
    await run.finished;
  }

  // ---------------------------------------------------------------- experiments

  async saveExperiment(request: RequestOf<'saveExperiment'>): Promise<{ path: string; warnings: string[] }> {
    const { path, experiment } = parse('saveExperiment', request);
    return this.experiments.save(path, experiment);
  }

  async openExperiment(request: RequestOf<'openExperiment'>): Promise<{ path: string; experiment: Experiment; warnings: string[] }> {
    const { path } = parse('openExperiment', request);
    return this.experiments.open(path);
  }

  async listRecent(request: RequestOf<'listRecent'>): Promise<RecentExperiment[]> {
    parse('listRecent', request);
    return this.experiments.recent();
  }

  async autosave(request: RequestOf<'autosave'>): Promise<void> {
    const { experiment, path } = parse('autosave', request);
    await this.experiments.autosave(experiment, path);
  }

  async recoverAutosave(request: RequestOf<'recoverAutosave'>): Promise<RecoveredSession | null> {
    parse('recoverAutosave', request);
    return this.experiments.recoverAutosave();
  }

  // ---------------------------------------------------------------- model catalog

  async listModels(request: RequestOf<'listModels'>): Promise<CatalogModel[]> {
    parse('listModels', request);
    return describeCatalog(this.modelsDir, this.catalog);
  }

  async downloadModel(request: RequestOf<'downloadModel'>): Promise<{ downloadId: string }> {
    const { id } = parse('downloadModel', request);
    const entry = this.catalog.find((model) => model.id === id);
    if (!entry) throw new EngineError('not_found', `no model "${id}" in the catalog (models: ${this.catalog.map((model) => model.id).join(', ')})`);
    mkdirSync(this.modelsDir, { recursive: true });
    return this.downloads.start(entry);
  }

  /** No native dialogs outside the app: the UI asks for a path as text instead. */
  async pickPath(request: RequestOf<'pickPath'>): Promise<string | null> {
    parse('pickPath', request);
    return null;
  }

  /** Stop runs and downloads, release the model and the inference worker. */
  async close(): Promise<void> {
    this.downloads.cancelAll();
    await this.changeModel(() => this.release());
    await this.engine.close();
    this.listeners.clear();
  }
}

/** A request parsed with its schema (defaults filled in); EngineError('bad_argument') naming the field otherwise. */
function parse<M extends WorkbenchMethod>(method: M, request: unknown): ParamsOf<M> {
  const result = parseParams(method, request);
  if (result.success) return result.data;
  throw new EngineError('bad_argument', `${method}: ${issueLines(zodIssues(result.error.issues, [], '(params)'))}`);
}

/** The hook's layout, or EngineError('bad_argument') that names the hook the caller gave. */
/** The variants a run generates: all, or the baseline and the one `only` names (the baseline alone if it is the one). */
function runVariants(variants: Variant[], only: string | null): Variant[] {
  if (only === null) return variants;
  const index = variants.findIndex((variant) => variant.id === only);
  if (index < 0) throw new EngineError('bad_argument', `only: no variant has the id "${only}" (ids: ${variants.map((variant) => variant.id).join(', ')})`);
  return index === 0 ? [variants[0]] : [variants[0], variants[index]];
}

function hookAt(handle: ModelHandle, hook: string): HookInfo {
  try {
    return hookInfo(handle.spec, hook);
  } catch (error) {
    if (error instanceof EngineError) throw new EngineError('bad_argument', `${hook}: ${error.message}`);
    throw error;
  }
}

/** Where Save As starts when there is no file yet: ~/Documents if there is one, else home. */
function defaultExperimentDir(): string {
  const home = homedir();
  const documents = join(home, 'Documents');
  return existsSync(documents) ? documents : home;
}
