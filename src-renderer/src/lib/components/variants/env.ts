/** What the variant editor's forms need from outside: engine calls and the loaded model. */
import type { HookInfo, ModelInfo, WorkbenchApi } from '../../api/types';

export type EditorApi = Pick<WorkbenchApi, 'embeddingVector' | 'contrastVector' | 'readVectorFile' | 'tokenize' | 'validateVariant' | 'pickPath'>;

export interface EditorEnv {
  api: EditorApi;
  model: ModelInfo | null;
  hooks: HookInfo[];
  nativeDialogs: boolean;
}
