/**
 * Experiment files as the workbench offers them: save and open (experiment/file.ts) keep
 * the recent list (experiment/recent.ts) up to date, and the unsaved session is kept for
 * crash recovery (experiment/autosave.ts), all under the app-data folder.
 *
 * Autosaves are written when asked, not throttled here: the caller (the renderer) decides
 * how often, and a failed write is reported to it instead of being lost on a timer.
 */
import { basename, resolve } from 'node:path';
import { EngineError } from '../errors';
import { AutosaveStore, type RecoveredSession } from '../experiment/autosave';
import { openExperiment, saveExperiment } from '../experiment/file';
import { RecentExperiments } from '../experiment/recent';
import { DEFAULT_EXPERIMENT_NAME, type Experiment } from '../experiment/schema';
import type { RecentExperiment } from './protocol';

/** "runs/sweep.tiller.json" -> "sweep". */
export function nameFromFile(path: string): string {
  return basename(path).replace(/(\.tiller)?\.json$/, '');
}

export class ExperimentStore {
  private readonly recentList: RecentExperiments;
  private readonly autosaves: AutosaveStore;

  constructor(appDataDir: string) {
    this.recentList = new RecentExperiments(appDataDir);
    this.autosaves = new AutosaveStore(appDataDir);
  }

  /** An experiment still named by default (or not at all) is named from its file: "sweep.tiller.json" is "sweep". */
  save(path: string, experiment: Experiment): { path: string; warnings: string[] } {
    const absolute = resolve(path);
    const unnamed = experiment.name.trim() === '' || experiment.name === DEFAULT_EXPERIMENT_NAME;
    const named = unnamed ? { ...experiment, name: nameFromFile(absolute) } : experiment;
    const saved = saveExperiment(absolute, named);
    this.recentList.add(absolute, named.name);
    return { path: saved.path, warnings: saved.warnings };
  }

  open(path: string): { path: string; experiment: Experiment; warnings: string[] } {
    const absolute = resolve(path);
    try {
      const opened = openExperiment(absolute);
      this.recentList.add(absolute, opened.experiment.name || nameFromFile(absolute));
      return { path: absolute, experiment: opened.experiment, warnings: opened.warnings };
    } catch (error) {
      // A recent entry that no longer opens would fail the same way every time.
      if (error instanceof EngineError && error.code === 'not_found') this.recentList.remove(absolute);
      throw error;
    }
  }

  recent(): RecentExperiment[] {
    return this.recentList.list();
  }

  autosave(experiment: Experiment | null, origin: string | null): void {
    this.autosaves.write(experiment, origin === null ? null : resolve(origin));
  }

  recoverAutosave(): RecoveredSession | null {
    return this.autosaves.recover();
  }
}
