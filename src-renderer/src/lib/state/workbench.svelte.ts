/**
 * The window's controller: ties the engine session, the open experiment and the live
 * run together, and implements every user action once, whether it comes from a button,
 * a keyboard shortcut or the application menu ('menu' events).
 */
import { createContext } from 'svelte';
import { errorHeadline, errorMessage, issueLines } from '../api/errors';
import type { Experiment, ExperimentResults, MenuCommand, ModelRef, PickKind, RecentExperiment, RecoveredSession, RequestOf, TokenRecord, VariantResult, WorkbenchEvent } from '../api/types';
import type { ConnectionState } from '../api/websocket';
import type { AnswerConsistency } from '../../../../src-shared/consistency';
import { modelRefOf } from '../logic/defaults';
import { folderOf, inFolder, modelLabel } from '../logic/format';
import { checkVariant, errorsOf, issueLine } from '../logic/issues';
import { sameWeights } from '../logic/weights';
import { finishedExperiment } from '../logic/sanitize';
import { ExperimentDocument } from './document.svelte';
import { Dialogs } from './dialogs.svelte';
import { EngineChecks } from './engine-checks.svelte';
import { Notices } from './notices.svelte';
import { LiveStrength } from './live-strength.svelte';
import { LiveRun } from './run.svelte';
import { SweepRun } from './sweep.svelte';
import type { Session } from './session.svelte';
import { UnappliedFields } from './unapplied.svelte';
import { InsideAnalyses } from './inside.svelte';
import type { CellVariant } from '../logic/inside';
import type { StepsVariant } from '../logic/trace-variant';
import { addIntervention, setOrigin, uniqueName } from '../logic/variants';
import { canRegenerateOne, mergeOneVariant, oneVariantIds, runInputs } from '../logic/one-variant';

export type View = 'variants' | 'compare' | 'inside' | 'vectors';

/** One column of the compare view. */
export interface CompareColumn {
  variantId: string;
  name: string;
  tokens: TokenRecord[];
  stopReason: VariantResult['stopReason'] | null;
  tokensPerSecond: number | null;
  /** Internal consistency over the answer set, once the run has ended with one. */
  answer: AnswerConsistency | null;
}

const AUTOSAVE_MS = 5000;

export class Workbench {
  readonly session: Session;
  readonly doc = new ExperimentDocument();
  readonly run = new LiveRun();
  readonly dialogs = new Dialogs();
  readonly notices = new Notices();
  /** The engine's answers about each variant (the variants view keeps them current). */
  readonly checks: EngineChecks;
  /** Generation settings whose typed text is not in the document (SettingsForm reports them). */
  readonly settingsFields = new UnappliedFields();
  /** The Inside tab's analyses (logit lens, patching sweeps). */
  readonly inside: InsideAnalyses;
  /** Regenerate as a steering scale moves (the live strength slider). */
  readonly live = new LiveStrength({
    stop: async () => {
      if (!this.run.active) return;
      await this.cancel();
      await this.run.whenIdle();
    },
    start: (only) => this.generate({ show: false, only }),
  });

  #view = $state<View>('variants');
  #selected = $state(0);
  #recent = $state.raw<RecentExperiment[]>([]);
  #recovered = $state.raw<RecoveredSession | null>(null);
  #busy = $state<string | null>(null);
  #catalogRequested = $state(0);
  #lastAutosaved = '';
  /** The model the run in progress (or the last one) generates with. */
  #runModel: ModelRef | null = null;
  /** The inputs (one-variant.ts runInputs) of the run in progress, and the results a full run with them stored. */
  #runInputs = '';
  #resultsMade: { results: ExperimentResults; inputs: string } | null = null;
  #fileAction = false;
  #timer: ReturnType<typeof setInterval> | null = null;
  #unsubscribe: (() => void) | null = null;

  #columns = $derived.by((): CompareColumn[] => this.#computeColumns());

  /** The Vectors tab's sweep (kept while the user looks at other tabs). */
  readonly sweep: SweepRun;

  constructor(session: Session) {
    this.session = session;
    this.checks = new EngineChecks(session.api);
    this.sweep = new SweepRun(session.api);
    this.inside = new InsideAnalyses(session.api, this.doc, this.notices, () => this.#mayRunOnLoadedModel());
  }

  get view(): View {
    return this.#view;
  }
  set view(view: View) {
    this.#view = view;
  }
  /** Index of the variant open in the editor. */
  get selected(): number {
    return Math.min(this.#selected, this.doc.variants.length - 1);
  }
  set selected(index: number) {
    this.#selected = index;
  }
  get recent(): RecentExperiment[] {
    return this.#recent;
  }
  /** Work a session that ended without saving left, with the file it was editing (null: never saved). */
  get recovered(): RecoveredSession | null {
    return this.#recovered;
  }
  /** What a slow file action is doing ("Saving…"), or null. */
  get busy(): string | null {
    return this.#busy;
  }
  /** Bumped when the menu asks to show the model catalogue. */
  get catalogRequested(): number {
    return this.#catalogRequested;
  }
  get columns(): CompareColumn[] {
    return this.#columns;
  }
  /** The experiment names a model that is not the loaded one, or the same one with its weights in another format. */
  get modelMismatch(): boolean {
    const wanted = this.doc.model;
    const loaded = this.session.model;
    return wanted !== null && (loaded === null || loaded.fingerprint !== wanted.fingerprint || this.weightsMismatch);
  }
  /** The loaded model is the experiment's, but its weights are stored in another format than the experiment's results were made with. */
  get weightsMismatch(): boolean {
    const wanted = this.doc.model;
    const loaded = this.session.model;
    return wanted !== null && loaded !== null && loaded.fingerprint === wanted.fingerprint && !sameWeights(wanted.weights, loaded.weights);
  }
  /**
   * The results on screen were made with a model that is not the loaded one. They stay
   * with their model (the experiment keeps naming it, so Save writes them under it) until
   * a new run replaces them or the user discards them.
   */
  get resultsStale(): boolean {
    return this.doc.hasResults && !this.run.showing && this.modelMismatch;
  }
  get canGenerate(): boolean {
    return this.session.model !== null && !this.run.active && !this.session.crashed && this.settingsFields.count === 0;
  }
  /**
   * Why Generate would not run the settings the user sees: a settings field holds text
   * that is not applied, so the document still has an older value. Null when none does.
   */
  get settingsBlock(): string | null {
    const count = this.settingsFields.count;
    if (count === 0) return null;
    return `${count === 1 ? 'A generation setting is' : `${count} generation settings are`} not applied: fix the text marked in red`;
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    this.#unsubscribe = this.session.api.onEvent((event) => this.handleEvent(event));
    await this.session.refresh();
    this.#adoptLoadedModel();
    await Promise.all([this.refreshRecent(), this.session.refreshCatalog(), this.#checkAutosave()]);
    this.#timer = setInterval(() => void this.#autosave(), AUTOSAVE_MS);
  }

  dispose(): void {
    this.#unsubscribe?.();
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  handleEvent(event: WorkbenchEvent): void {
    switch (event.type) {
      case 'conversion':
        this.session.handleEvent(event);
        break;
      case 'status':
      case 'download':
        this.session.handleEvent(event);
        // A crashed engine sends nothing more for its run, and a restarted one does not know it.
        if (this.session.crashed) this.#abandonRun(this.session.status?.error?.message ?? 'the engine crashed');
        break;
      case 'menu':
        void this.menu(event.command, event.path);
        break;
      case 'analysis':
        this.inside.accept(event);
        break;
      case 'sweep':
        this.sweep.accept(event);
        break;
      default: {
        const wasActive = this.run.active;
        const results = this.run.accept(event);
        if (results) this.#storeResults(results);
        // Only while it runs: an error for a run already ended here (crash, lost connection) was reported then.
        if (event.type === 'error' && wasActive && event.runId === this.run.runId) {
          if (event.error.code !== 'cancelled') this.notices.error(`Generation failed: ${event.error.message}`);
          // Nothing streamed: keep showing the results the document already has.
          if (this.run.produced === 0) this.run.settle();
        }
      }
    }
  }

  /**
   * The transport's state (IPC is always open). A closed WebSocket answers no more calls and
   * carries no more events, so a run in progress is ended here, as after a crash.
   */
  setConnection(state: ConnectionState): void {
    this.session.setConnection(state);
    if (state === 'closed') this.#abandonRun('the connection to the engine closed');
  }

  /**
   * The engine can no longer finish the run (it crashed, or the connection dropped): end it
   * here as failed, keeping the tokens it streamed; the document is left as it is.
   */
  #abandonRun(message: string): void {
    this.inside.abandon();
    this.sweep.abandon();
    if (!this.run.active) return;
    this.run.fail(message);
    this.notices.error(`Generation failed: ${message}`);
    if (this.run.produced === 0) this.run.settle();
  }

  async menu(command: MenuCommand, path: string | null = null): Promise<void> {
    switch (command) {
      case 'new':
        return this.newExperiment();
      case 'open':
      case 'open-recent':
        return this.open(path ?? undefined);
      case 'save':
        return this.save();
      case 'save-as':
        return this.saveAs();
      case 'open-model-folder':
      case 'open-model-file': {
        const picked = path ?? (await this.askPath(command === 'open-model-folder' ? 'model-folder' : 'model-file', 'Open model', 'Load'));
        if (picked) await this.loadModel(picked);
        return;
      }
      case 'download-model':
        this.#catalogRequested += 1;
        return;
      case 'generate':
        return this.generate();
      case 'cancel':
        return this.cancel();
    }
  }

  // ------------------------------------------------------------ model

  /**
   * Load with the weight format the engine proposes for this model (float32 when it fits
   * comfortably, else int8 or int4): for loads that skip the model form (browse, catalogue).
   */
  async loadAdvised(path: string): Promise<void> {
    await this.session.checkMemory(path);
    await this.loadModel(path, { format: this.session.memoryOf(path)?.recommended ?? 'f32' });
  }

  async loadModel(path: string, weights?: RequestOf<'loadModel'>['weights']): Promise<void> {
    const model = await this.session.loadModel(path, weights);
    if (!model) return;
    if (this.resultsStale) {
      const owner = this.doc.model;
      this.notices.info(`The results on screen stay with ${owner ? modelLabel(owner) : 'the model that made them'}: the experiment keeps naming it. Generate to run on the loaded model, or discard the results.`);
      return;
    }
    this.#adoptLoadedModel();
  }

  /** A document without results follows the loaded model (results keep theirs: see resultsStale). */
  #adoptLoadedModel(): void {
    const model = this.session.model;
    if (model && !this.doc.hasResults) this.doc.setModel(modelRefOf(model));
  }

  /**
   * Drop results (and analyses) made with another model, with the user's consent, so the
   * experiment can name the loaded model. True when they are gone.
   */
  async discardStaleResults(): Promise<boolean> {
    const owner = this.doc.model;
    if (!this.resultsStale || !owner) return !this.resultsStale;
    const analyses = this.doc.analyses.length;
    const what = this.doc.results === null ? 'analyses' : analyses > 0 ? 'results and analyses' : 'results';
    const agreed = await this.dialogs.confirm(
      `Discard these ${what}?`,
      `They were made with ${modelLabel(owner)}. Without them the experiment names the loaded model instead; a saved file keeps them until you save over it.`,
      `Discard ${what}`,
    );
    if (!agreed || !this.resultsStale) return !this.resultsStale;
    const loaded = this.session.model;
    this.doc.clearResults(loaded ? modelRefOf(loaded) : owner);
    this.#view = 'variants';
    return true;
  }

  /**
   * Before a run on the loaded model (Generate, an analysis): the experiment must name it.
   * Results of another model are discarded only if the user agrees; without results the
   * experiment simply follows the loaded model.
   */
  async #mayRunOnLoadedModel(): Promise<boolean> {
    if (this.resultsStale && !(await this.discardStaleResults())) return false;
    this.#nameLoadedModel();
    return true;
  }

  /** An experiment without results that names another model takes the loaded one, and says so. */
  #nameLoadedModel(): void {
    const loaded = this.session.model;
    if (!loaded || !this.modelMismatch || this.doc.hasResults) return;
    this.doc.setModel(modelRefOf(loaded));
    this.notices.info(`The experiment now names the loaded model, ${modelLabel(loaded)}.`);
  }

  async restartEngine(): Promise<void> {
    try {
      await this.session.restart();
    } catch (error) {
      this.notices.error(`Restart failed: ${errorMessage(error)}`);
    }
  }

  // ------------------------------------------------------------ generation

  /**
   * show: switch to the compare view (not for live strength, whose slider is in the
   * variants view). only: regenerate just this variant, when the results on screen were
   * made from today's prompt and settings (otherwise every variant runs).
   */
  async generate({ show = true, only = null }: { show?: boolean; only?: string | null } = {}): Promise<void> {
    const blocked = this.settingsBlock;
    if (blocked !== null && !this.run.active) {
      // A shortcut or the menu may ask while the button is disabled: say why nothing runs.
      this.notices.error(`${blocked}.`, this.settingsFields.messages);
      return;
    }
    const model = this.session.model;
    if (!this.canGenerate || model === null) return;
    const variants = $state.snapshot(this.doc.variants);
    // Warnings run; errors the engine already reported are refused here as they would be there.
    const problems = variants.flatMap((variant) => {
      const check = this.checks.result(variant, model);
      const issues = [...checkVariant(variant, model, this.session.hooks), ...(check?.state === 'done' ? check.issues : [])];
      return errorsOf(issues).map((issue) => `${variant.name} › ${issueLine(issue)}`);
    });
    if (problems.length > 0) {
      this.notices.error('Fix these before generating:', problems);
      this.#view = 'variants';
      return;
    }
    // Awaited only when there is something to ask: otherwise the run begins at once, as a shortcut expects.
    if (this.resultsStale && (!(await this.discardStaleResults()) || !this.canGenerate)) return;
    this.#nameLoadedModel();
    const settings = $state.snapshot(this.doc.settings);
    const consistency = $state.snapshot(this.doc.consistency);
    const prompt = $state.snapshot(this.doc.prompt);
    this.#runModel = modelRefOf(model);
    this.#runInputs = runInputs(prompt, settings, consistency, model.path);
    const ids = variants.map((variant) => variant.id);
    const made = this.#resultsMade?.results === this.doc.results ? this.#resultsMade.inputs : null;
    const one = only !== null && canRegenerateOne(this.doc.results, ids, only, made, this.#runInputs) ? only : null;
    if (show) this.#view = 'compare';
    this.run.begin(one === null ? ids : oneVariantIds(ids, one), settings.maxNewTokens, one);
    try {
      const { runId } = await this.session.api.generate({ prompt, settings, consistency, variants, only: one });
      const results = this.run.attach(runId);
      if (results) this.#storeResults(results);
    } catch (error) {
      // Already ended (and reported) when the engine crashed or the connection closed meanwhile.
      if (!this.run.active) return;
      this.run.fail(errorMessage(error));
      this.run.settle();
      this.notices.error(`Generation failed: ${errorHeadline(error)}`, issueLines(error));
    }
  }

  /**
   * A cell, head or neuron of an analysis as a new variant holding its intervention (a
   * tracing cell: its noise and restores), shown in the Compare view (empty until the
   * next run), so one click and Generate compare it.
   */
  addVariantFrom(cell: CellVariant | StepsVariant): void {
    const name = uniqueName(cell.name, this.doc.variants.map((variant) => variant.name));
    const index = this.doc.addVariant();
    const steps = 'steps' in cell ? cell.steps : [cell];
    const variant = steps.reduce((made, step) => {
      const added = addIntervention(made, step.intervention);
      return step.origin ? setOrigin(added, added.interventions.length - 1, step.origin) : added;
    }, { ...$state.snapshot(this.doc.variants[index]), name });
    this.doc.updateVariant(index, variant);
    this.#selected = index;
    this.#view = 'compare';
    this.notices.info(`Added the variant “${name}”: Generate to compare it with the baseline.`);
  }

  async cancel(): Promise<void> {
    const runId = this.run.runId;
    if (!this.run.active || runId === null) return;
    try {
      await this.session.api.cancel({ runId });
    } catch (error) {
      this.notices.error(`Cancel failed: ${errorMessage(error)}`);
    }
  }

  /** A finished run's results, stored with the model that made them (generate made the experiment name it); a one-variant run's replace its column only. */
  #storeResults(fresh: ExperimentResults): void {
    const only = this.run.only;
    const stored = this.doc.results;
    const results = only !== null && stored !== null ? mergeOneVariant(stored, fresh, only) : fresh;
    this.#resultsMade = { results, inputs: this.#runInputs };
    this.doc.setResults(results, this.#runModel ?? this.doc.model);
    this.run.settle();
  }

  #computeColumns(): CompareColumn[] {
    const byId = new Map(this.doc.variants.map((variant) => [variant.id, variant.name]));
    const only = this.run.only;
    if (this.run.showing && only !== null && this.doc.results) {
      // One variant regenerates: every other column stays as stored.
      const tokens = this.run.tokens[this.run.variantIds.indexOf(only)] ?? [];
      return this.doc.results.variants.map((result) => ({
        variantId: result.variantId,
        name: byId.get(result.variantId) ?? result.variantId,
        ...(result.variantId === only ? { tokens, stopReason: null, tokensPerSecond: null, answer: null } : { tokens: result.tokens, stopReason: result.stopReason, tokensPerSecond: result.tokensPerSecond, answer: result.answerConsistency ?? null }),
      }));
    }
    if (this.run.showing) {
      return this.run.variantIds.map((variantId, i) => ({
        variantId,
        name: byId.get(variantId) ?? variantId,
        tokens: this.run.tokens[i] ?? [],
        stopReason: null,
        tokensPerSecond: null,
        answer: null,
      }));
    }
    const results = this.doc.results;
    if (!results) return [];
    return results.variants.map((result) => ({
      variantId: result.variantId,
      name: byId.get(result.variantId) ?? `${result.variantId} (removed)`,
      tokens: result.tokens,
      stopReason: result.stopReason,
      tokensPerSecond: result.tokensPerSecond,
      answer: result.answerConsistency ?? null,
    }));
  }

  // ------------------------------------------------------------ variants

  /** Delete a variant (not the baseline), with an Undo in the notice that says so. */
  removeVariant(index: number): void {
    const removed = this.doc.removeVariant(index);
    if (!removed) return;
    this.#selected = Math.max(0, index - 1);
    const revision = this.doc.revision;
    this.notices.info(`Deleted variant “${removed.name}”`, {
      label: 'Undo',
      run: () => {
        // Another document replaced this one meanwhile: the variant belongs to neither.
        if (this.doc.revision !== revision) return;
        this.#selected = this.doc.insertVariant(index, removed);
        this.#view = 'variants';
      },
    });
  }

  // ------------------------------------------------------------ files

  newExperiment(): Promise<void> {
    return this.#exclusive(async () => {
      if (!(await this.#mayDiscard())) return;
      const model = this.session.model;
      this.doc.reset(model ? modelRefOf(model) : null);
      this.#afterReplace();
    });
  }

  open(path?: string): Promise<void> {
    return this.#exclusive(async () => {
      if (!(await this.#mayDiscard())) return;
      const target = path ?? (await this.askPath('open-experiment', 'Open experiment', 'Open'));
      if (!target) return;
      await this.#withBusy('Opening…', async () => {
        const opened = await this.session.api.openExperiment({ path: target });
        this.doc.load(opened.experiment, opened.path);
        this.#afterReplace();
        for (const warning of opened.warnings) this.notices.info(warning);
        await this.refreshRecent();
      });
    });
  }

  /** Save to the file it came from, or ask where (Save As) the first time. */
  save(): Promise<void> {
    return this.#exclusive(async () => {
      const path = this.doc.path;
      if (path) await this.#saveTo(path);
      else await this.#saveAs();
    });
  }

  saveAs(): Promise<void> {
    return this.#exclusive(() => this.#saveAs());
  }

  async #saveAs(): Promise<void> {
    const file = `${this.doc.name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'experiment'}.tiller.json`;
    // The engine takes absolute paths only (a relative one would land in its working
    // directory): suggest the folder of the latest recent experiment, else the engine's
    // default folder (home, or Documents).
    const latest = this.#recent[0]?.path;
    const suggestion = this.doc.path ?? (latest ? `${folderOf(latest)}${file}` : inFolder(this.session.status?.defaultDir ?? '', file));
    const path = await this.askPath('save-experiment', 'Save experiment as', 'Save', suggestion);
    if (path) await this.#saveTo(path);
  }

  /**
   * One file action at a time: in the app a shortcut can arrive twice (the page's keydown
   * and the menu's accelerator), and a second dialog or save must not start meanwhile.
   */
  async #exclusive(action: () => Promise<void>): Promise<void> {
    if (this.#fileAction) return;
    this.#fileAction = true;
    try {
      await action();
    } finally {
      this.#fileAction = false;
    }
  }

  async #saveTo(path: string): Promise<void> {
    await this.#withBusy('Saving…', async () => {
      const saved = await this.session.api.saveExperiment({ path, experiment: this.doc.toExperiment() });
      this.doc.markSaved(saved.path);
      this.#lastAutosaved = '';
      await this.session.api.autosave({ experiment: null });
      this.notices.info(`Saved ${saved.path}`);
      await this.refreshRecent();
    });
  }

  async refreshRecent(): Promise<void> {
    try {
      this.#recent = await this.session.api.listRecent({});
    } catch (error) {
      console.warn(`could not list recent experiments: ${errorMessage(error)}`);
    }
  }

  restoreRecovered(): void {
    const recovered = this.#recovered;
    if (!recovered) return;
    // Back in the file it came from: the title names it and Save writes to it, not to a new file.
    this.doc.load(recovered.experiment, recovered.path, { clean: false });
    this.#recovered = null;
    this.#afterReplace();
  }

  async discardRecovered(): Promise<void> {
    this.#recovered = null;
    try {
      await this.session.api.autosave({ experiment: null });
    } catch (error) {
      this.notices.error(`Could not clear the autosave: ${errorMessage(error)}`);
    }
  }

  /** A path from the native dialog (Electron) or the in-app path field (browser). */
  async askPath(kind: PickKind, title: string, confirmLabel: string, defaultPath?: string): Promise<string | null> {
    if (!this.session.nativeDialogs) return this.dialogs.askPath(kind, title, defaultPath ?? '', confirmLabel);
    try {
      return await this.session.api.pickPath(defaultPath === undefined ? { kind } : { kind, defaultPath });
    } catch (error) {
      this.notices.error(`Could not open the file dialog: ${errorMessage(error)}`);
      return null;
    }
  }

  async #checkAutosave(): Promise<void> {
    try {
      this.#recovered = await this.session.api.recoverAutosave({});
    } catch (error) {
      console.warn(`could not read the autosave: ${errorMessage(error)}`);
    }
  }

  async #autosave(): Promise<void> {
    if (!this.doc.dirty || this.session.crashed || this.session.connection === 'closed') return;
    const experiment = finishedExperiment(this.doc.toExperiment());
    const path = this.doc.path;
    const key = JSON.stringify({ ...experiment, updatedAt: '', path });
    if (key === this.#lastAutosaved) return;
    try {
      await this.session.api.autosave({ experiment, path });
      this.#lastAutosaved = key;
    } catch (error) {
      console.warn(`autosave failed: ${errorMessage(error)}`);
    }
  }

  async #mayDiscard(): Promise<boolean> {
    if (!this.doc.dirty) return true;
    return this.dialogs.confirm('Discard changes?', `“${this.doc.name}” has changes that are not saved. Continue without saving them?`, 'Discard');
  }

  #afterReplace(): void {
    this.run.clear();
    this.#selected = 0;
    this.#view = this.doc.results ? 'compare' : 'variants';
  }

  async #withBusy(label: string, action: () => Promise<void>): Promise<void> {
    this.#busy = label;
    try {
      await action();
    } catch (error) {
      this.notices.error(errorHeadline(error), issueLines(error));
    } finally {
      this.#busy = null;
    }
  }
}

export const [getWorkbench, setWorkbench] = createContext<Workbench>();
