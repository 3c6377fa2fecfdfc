/**
 * The open experiment: what the user edits (name, prompt, settings, variants), its
 * cached results, the file it lives in, and whether it changed since it was saved.
 * Components read it through getters and change it through the methods below.
 */
import type { AnalysisRecord, Experiment, ExperimentResults, GenerationSettings, LibraryVector, ModelRef, Variant } from '../api/types';
import type { ConsistencySettings } from '../../../../src-shared/consistency';
import { newExperiment, newVariant } from '../logic/defaults';
import { duplicateVariant, uniqueName } from '../logic/variants';

type Editable = Omit<Experiment, 'results' | 'updatedAt' | 'analyses'>;

export class ExperimentDocument {
  #doc = $state<Editable>(editable(newExperiment(null)));
  #results = $state.raw<ExperimentResults | null>(null);
  #path = $state<string | null>(null);
  #savedJson = $state('');
  #savedResults = $state.raw<ExperimentResults | null>(null);
  /** Inside-tab analyses: replaced whole on each change (large grids need no deep reactivity). */
  #analyses = $state.raw<AnalysisRecord[]>([]);
  #savedAnalyses = $state.raw<AnalysisRecord[]>([]);
  /** Bumped when a whole document replaces the current one, so editors start afresh. */
  #revision = $state(0);

  #json = $derived(JSON.stringify(this.#doc));
  #dirty = $derived(this.#json !== this.#savedJson || this.#results !== this.#savedResults || this.#analyses !== this.#savedAnalyses);

  constructor() {
    this.#savedJson = JSON.stringify(this.#doc);
    this.#savedAnalyses = this.#analyses;
  }

  get name(): string {
    return this.#doc.name;
  }
  get model(): ModelRef | null {
    return this.#doc.model;
  }
  get prompt(): Experiment['prompt'] {
    return this.#doc.prompt;
  }
  get settings(): GenerationSettings {
    return this.#doc.settings;
  }
  /** Internal consistency after each run: the lens pass on or off, L', the answer set. */
  get consistency(): ConsistencySettings {
    return this.#doc.consistency;
  }
  get variants(): Variant[] {
    return this.#doc.variants;
  }
  get results(): ExperimentResults | null {
    return this.#results;
  }
  /** The vector library (the Vectors tab). */
  get vectors(): LibraryVector[] {
    return this.#doc.vectors;
  }
  get analyses(): AnalysisRecord[] {
    return this.#analyses;
  }
  get path(): string | null {
    return this.#path;
  }
  get dirty(): boolean {
    return this.#dirty;
  }
  get revision(): number {
    return this.#revision;
  }

  /** The document as saved: a plain snapshot with results, stamped now. */
  toExperiment(now: Date = new Date()): Experiment {
    return { ...$state.snapshot(this.#doc), updatedAt: now.toISOString(), results: $state.snapshot(this.#results), analyses: this.#analyses };
  }

  /** Replace everything (New, Open, Restore); `path` null for an unsaved document. */
  load(experiment: Experiment, path: string | null, { clean = true } = {}): void {
    this.#doc = editable(experiment);
    this.#results = experiment.results;
    this.#analyses = experiment.analyses;
    this.#path = path;
    this.#revision += 1;
    if (clean) this.#markClean();
    else {
      // A restored autosave: unsaved by definition.
      this.#savedJson = '';
      this.#savedResults = null;
      this.#savedAnalyses = [];
    }
  }

  reset(model: ModelRef | null): void {
    this.load(newExperiment(model), null);
  }

  markSaved(path: string): void {
    this.#path = path;
    this.#markClean();
  }

  #markClean(): void {
    this.#savedJson = JSON.stringify(this.#doc);
    this.#savedResults = this.#results;
    this.#savedAnalyses = this.#analyses;
  }

  setName(name: string): void {
    this.#doc.name = name;
  }

  /**
   * The loaded model, for a document without results (results belong to the model that
   * made them: setResults changes both). An untouched new document takes it without
   * becoming dirty.
   */
  setModel(model: ModelRef | null): void {
    if (this.hasResults) throw new Error('setModel: the document has results; they change model only with setResults or clearResults');
    const untouched = this.#path === null && !this.#dirty;
    this.#doc.model = model;
    if (untouched) this.#markClean();
  }

  setPromptText(text: string): void {
    this.#doc.prompt.text = text;
  }

  setChat(chat: boolean): void {
    this.#doc.prompt.chat = chat;
  }

  updateSettings(change: Partial<GenerationSettings>): void {
    this.#doc.settings = { ...this.#doc.settings, ...change };
  }

  updateConsistency(change: Partial<ConsistencySettings>): void {
    this.#doc.consistency = { ...this.#doc.consistency, ...change };
  }

  updateVariant(index: number, variant: Variant): void {
    this.#doc.variants[index] = variant;
  }

  /** A new empty variant after the others; returns its index. */
  addVariant(): number {
    const name = uniqueName(`Variant ${this.#doc.variants.length}`, this.#names());
    this.#doc.variants.push(newVariant(name));
    return this.#doc.variants.length - 1;
  }

  duplicateVariant(index: number): number {
    const source = $state.snapshot(this.#doc.variants[index]);
    const copy = duplicateVariant(source, uniqueName(`${source.name} copy`, this.#names()));
    this.#doc.variants.splice(index + 1, 0, copy);
    return index + 1;
  }

  /** Remove a variant and return it; the baseline (index 0) stays. */
  removeVariant(index: number): Variant | null {
    if (index <= 0 || index >= this.#doc.variants.length) return null;
    const [removed] = this.#doc.variants.splice(index, 1);
    return $state.snapshot(removed) as Variant;
  }

  /** Put a variant back at `index` (never before the baseline); returns where it went. */
  insertVariant(index: number, variant: Variant): number {
    const at = Math.min(Math.max(1, index), this.#doc.variants.length);
    this.#doc.variants.splice(at, 0, variant);
    return at;
  }

  addVector(vector: LibraryVector): void {
    this.#doc.vectors.push(vector);
  }

  removeVector(id: string): void {
    this.#doc.vectors = this.#doc.vectors.filter((vector) => vector.id !== id);
  }

  /**
   * New results (or none) and the model they belong to: the file names one model, so
   * results are never saved under another model's reference and fingerprint.
   */
  setResults(results: ExperimentResults | null, model: ModelRef | null): void {
    this.#results = results;
    this.#doc.model = model;
  }

  /** Generation results or analyses: made with the model the document names, which only they may change. */
  get hasResults(): boolean {
    return this.#results !== null || this.#analyses.length > 0;
  }

  /** Drop generation results and analyses, and name `model` instead of the one that made them. */
  clearResults(model: ModelRef | null): void {
    this.#results = null;
    this.#analyses = [];
    this.#doc.model = model;
  }

  /** Keep a finished analysis (after the others: the file lists them oldest first). */
  addAnalysis(record: AnalysisRecord): void {
    this.#analyses = [...this.#analyses, record];
  }

  removeAnalysis(id: string): void {
    this.#analyses = this.#analyses.filter((record) => record.id !== id);
  }

  #names(): string[] {
    return this.#doc.variants.map((variant) => variant.name);
  }
}

function editable(experiment: Experiment): Editable {
  const { results: _results, updatedAt: _updatedAt, analyses: _analyses, ...rest } = $state.snapshot(experiment);
  return rest;
}
