/**
 * The two IPC channels between the renderer and main, named once for both sides
 * (STYLE.md, "Electron main and preload": fixed channels, no generic pipe).
 */
export const IPC = {
  /** renderer -> main: (method, params) -> InvokeResult */
  invoke: 'workbench:invoke',
  /** main -> renderer: one WorkbenchEvent */
  event: 'workbench:event',
} as const;
