/**
 * The renderer's only door to the app: `window.tiller = { invoke, onEvent }` over two
 * fixed channels (STYLE.md, "Electron main and preload"). No ipcRenderer, no Node; main
 * checks the sender and validates every payload. Runs sandboxed, so it is bundled into
 * one file and imports nothing but Electron at run time.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { InvokeResult, TillerBridge, WorkbenchEvent } from '../engine/api';
import { IPC } from '../app/ipc-channels';

const bridge: TillerBridge = {
  invoke: (method, params) => ipcRenderer.invoke(IPC.invoke, method, params) as Promise<InvokeResult>,
  onEvent: (listener) => {
    const forward = (_event: IpcRendererEvent, event: WorkbenchEvent): void => listener(event);
    ipcRenderer.on(IPC.event, forward);
    return () => {
      ipcRenderer.removeListener(IPC.event, forward);
    };
  },
};

contextBridge.exposeInMainWorld('tiller', bridge);
