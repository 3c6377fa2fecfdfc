/** pickPath in the app: a native open or save dialog attached to the window. */
import { dialog, type BrowserWindow } from 'electron';
import type { RequestOf } from '../engine/api';
import { dialogSpec, experimentSavePath } from './dialog-options';

export async function pickPath(window: BrowserWindow, request: RequestOf<'pickPath'>): Promise<string | null> {
  const spec = dialogSpec(request.kind);
  if (spec.mode === 'save') {
    const result = await dialog.showSaveDialog(window, { title: spec.title, defaultPath: request.defaultPath, filters: spec.filters });
    return result.canceled || !result.filePath ? null : experimentSavePath(result.filePath);
  }
  const result = await dialog.showOpenDialog(window, { title: spec.title, defaultPath: request.defaultPath, properties: spec.properties, filters: spec.filters });
  return result.canceled || result.filePaths.length === 0 ? null : result.filePaths[0];
}
