/** What the variant editor's forms need from outside: engine calls, the loaded model and the experiment's prompt. */
import type { Experiment, HookInfo, ModelInfo, WorkbenchApi } from '../../api/types';

export type EditorApi = Pick<WorkbenchApi, 'embeddingVector' | 'contrastVector' | 'readVectorFile' | 'tokenize' | 'validateVariant' | 'pickPath'>;

export interface EditorEnv {
  api: EditorApi;
  model: ModelInfo | null;
  hooks: HookInfo[];
  nativeDialogs: boolean;
  /** The prompt every variant runs on (a patch compares its source prompt's length with it). */
  prompt: Experiment['prompt'];
  /** Live strength: regenerate as a steering scale moves (absent where nothing can run, as in tests). */
  live?: LiveControl;
}

export interface LiveControl {
  on: boolean;
  toggle: (on: boolean) => void;
  /** A steering scale changed. */
  nudge: () => void;
}
