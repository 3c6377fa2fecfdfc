/**
 * Picks the transport: Electron IPC when the preload put `window.tiller` there, else a
 * WebSocket to the engine that served this page, with the token from `?token=`.
 */
import { createWorkbenchApi } from './client';
import { ApiError } from './errors';
import { createIpcTransport } from './ipc';
import type { WorkbenchApi } from './types';
import { createWebSocketTransport, engineSocketUrl, type ConnectionState } from './websocket';

export interface Connection {
  api: WorkbenchApi;
  transport: 'ipc' | 'websocket';
  /** The socket's state; IPC is always 'open'. */
  onConnection(listener: (state: ConnectionState) => void): () => void;
}

export function connect(): Connection {
  if (window.tiller) {
    return { api: createWorkbenchApi(createIpcTransport(window.tiller)), transport: 'ipc', onConnection: () => () => {} };
  }
  const url = engineSocketUrl(window.location);
  if (!url) throw new ApiError('no_token', 'This page needs the address that `npm run serve` printed (it carries ?token=…).');
  const transport = createWebSocketTransport(new WebSocket(url));
  return { api: createWorkbenchApi(transport), transport: 'websocket', onConnection: (listener) => transport.onConnection(listener) };
}
