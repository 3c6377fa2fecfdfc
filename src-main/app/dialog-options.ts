/**
 * What the native file dialog looks like for each PickKind. Plain data, so it can be
 * tested without Electron; pick-path.ts shows it.
 */
import type { PickKind } from '../engine/api';
import { EXPERIMENT_SUFFIX } from './open-file';

export interface DialogSpec {
  mode: 'open' | 'save';
  title: string;
  /** Electron's showOpenDialog properties. */
  properties: ('openFile' | 'openDirectory')[];
  /** Extensions without the dot; Electron cannot filter on two-part extensions, so experiments filter on json. */
  filters: { name: string; extensions: string[] }[];
}

const experiments = { name: 'Tiller experiments', extensions: ['json'] };

export function dialogSpec(kind: PickKind): DialogSpec {
  switch (kind) {
    case 'open-experiment':
      return { mode: 'open', title: 'Open Experiment', properties: ['openFile'], filters: [experiments] };
    case 'save-experiment':
      return { mode: 'save', title: 'Save Experiment', properties: [], filters: [experiments] };
    case 'model-folder':
      return { mode: 'open', title: 'Open Hugging Face Model Folder', properties: ['openDirectory'], filters: [] };
    case 'model-file':
      return { mode: 'open', title: 'Open llama2.c Checkpoint', properties: ['openFile'], filters: [{ name: 'llama2.c checkpoints', extensions: ['bin'] }] };
    case 'vector-file':
      return { mode: 'open', title: 'Open Vector File', properties: ['openFile'], filters: [{ name: 'Vectors', extensions: ['gguf', 'safetensors', 'json'] }] };
  }
}

/** A save path as an experiment file name: "run" -> "run.tiller.json", "run.json" -> "run.tiller.json". */
export function experimentSavePath(path: string): string {
  if (path.toLowerCase().endsWith(EXPERIMENT_SUFFIX)) return path;
  return `${path.replace(/\.json$/i, '')}${EXPERIMENT_SUFFIX}`;
}
