/**
 * The Inside tab's analyses: the one running (its progress), which saved record is shown,
 * and starting and cancelling them. Finished records go into the experiment document,
 * so they are saved with it; the engine streams progress and the record as 'analysis'
 * events (WorkbenchApi.analyse).
 */
import { errorHeadline, errorMessage, issueLines } from '../api/errors';
import type { AnalysisInput, AnalysisProgress, WorkbenchApi, WorkbenchEvent } from '../api/types';
import type { ExperimentDocument } from './document.svelte';
import type { Notices } from './notices.svelte';

export interface RunningAnalysis {
  kind: AnalysisInput['kind'];
  /** Null until the engine answers with the analysis id. */
  analysisId: string | null;
  progress: AnalysisProgress | null;
}

export class InsideAnalyses {
  #running = $state.raw<RunningAnalysis | null>(null);
  #selectedId = $state<string | null>(null);

  constructor(
    private readonly api: WorkbenchApi,
    private readonly doc: ExperimentDocument,
    private readonly notices: Notices,
    /** Whether the experiment may take results of the loaded model (it may ask the user first). */
    private readonly mayRun: () => Promise<boolean> = async () => true,
  ) {}

  get running(): RunningAnalysis | null {
    return this.#running;
  }
  /** The record on screen: the chosen one, or the newest. */
  get selected() {
    const records = this.doc.analyses;
    return records.find((record) => record.id === this.#selectedId) ?? records.at(-1) ?? null;
  }
  select(id: string): void {
    this.#selectedId = id;
  }

  async start(analysis: AnalysisInput): Promise<void> {
    if (this.#running) return;
    // The user may be asked first; another start may have begun meanwhile.
    if (!(await this.mayRun()) || this.#running) return;
    this.#running = { kind: analysis.kind, analysisId: null, progress: null };
    try {
      const { analysisId } = await this.api.analyse({ analysis });
      // An event may have ended it already (a fast analysis): then nothing is running.
      if (this.#running?.analysisId === null) this.#running = { ...this.#running, analysisId };
    } catch (error) {
      this.#running = null;
      this.notices.error(`Analysis failed: ${errorHeadline(error)}`, issueLines(error));
    }
  }

  async cancel(): Promise<void> {
    const analysisId = this.#running?.analysisId;
    if (!analysisId) return;
    try {
      await this.api.cancelAnalysis({ analysisId });
    } catch (error) {
      this.notices.error(`Cancel failed: ${errorMessage(error)}`);
    }
  }

  accept(event: Extract<WorkbenchEvent, { type: 'analysis' }>): void {
    const running = this.#running;
    if (!running) return;
    if (running.analysisId !== null && running.analysisId !== event.analysisId) return;
    if (event.state === 'running') {
      this.#running = { ...running, analysisId: event.analysisId, progress: event.progress };
      return;
    }
    this.#running = null;
    if (event.state === 'done' && event.record) {
      this.doc.addAnalysis(event.record);
      this.#selectedId = event.record.id;
    } else if (event.state === 'error') {
      this.notices.error(`Analysis failed: ${event.error?.message ?? 'unknown error'}`);
    }
  }

  /** The engine is gone (crash, closed connection): the analysis will send nothing more. */
  abandon(): void {
    this.#running = null;
  }

  remove(id: string): void {
    this.doc.removeAnalysis(id);
    if (this.#selectedId === id) this.#selectedId = null;
  }
}
