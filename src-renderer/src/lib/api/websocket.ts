/**
 * The browser transport: one WebSocket to `npm run serve` (loopback, token in the URL).
 *
 *   client -> server  {"kind":"request","id":n,"method":m,"params":{...}}
 *   server -> client  {"kind":"response","id":n,"ok":true,"result":...}
 *                     {"kind":"response","id":n,"ok":false,"error":{"code","message"}}
 *                     {"kind":"event","event":WorkbenchEvent}
 *
 * Requests made before the socket opens wait for it; when it closes, every pending
 * request fails with TRANSPORT_CLOSED (the token changes when the engine restarts, so
 * there is nothing to reconnect to).
 */
import type { Transport } from './client';
import { ApiError, TRANSPORT_CLOSED } from './errors';
import type { Reply, WorkbenchEvent, WorkbenchMethod } from './types';

/** The part of the DOM WebSocket this transport uses, so tests can hand in a fake. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface WebSocketTransport extends Transport {
  readonly state: ConnectionState;
  onConnection(listener: (state: ConnectionState) => void): () => void;
  close(): void;
}

const OPEN = 1;

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

export function createWebSocketTransport(socket: SocketLike): WebSocketTransport {
  let nextId = 1;
  let state: ConnectionState = socket.readyState === OPEN ? 'open' : 'connecting';
  const pending = new Map<number, Pending>();
  const unsent: string[] = [];
  const eventListeners = new Set<(event: WorkbenchEvent) => void>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();

  function setState(next: ConnectionState): void {
    state = next;
    for (const listener of connectionListeners) listener(next);
  }

  socket.addEventListener('open', () => {
    for (const message of unsent.splice(0)) socket.send(message);
    setState('open');
  });
  socket.addEventListener('close', () => {
    const error = new ApiError(TRANSPORT_CLOSED, 'the connection to the engine closed');
    for (const request of pending.values()) request.reject(error);
    pending.clear();
    unsent.length = 0;
    setState('closed');
  });
  socket.addEventListener('message', (message) => {
    if (typeof message.data !== 'string') return;
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      console.warn('engine sent a message that is not JSON');
      return;
    }
    if (!isObject(data)) return;
    if (data.kind === 'event' && isObject(data.event)) {
      const event = data.event as unknown as WorkbenchEvent;
      for (const listener of eventListeners) listener(event);
    } else if (data.kind === 'response' && typeof data.id === 'number') {
      const request = pending.get(data.id);
      if (!request) return; // a reply to a request that already failed (socket reopened)
      pending.delete(data.id);
      request.resolve(data.ok === true ? { ok: true, result: data.result } : { ok: false, error: replyError(data.error) });
    }
  });

  return {
    get state() {
      return state;
    },
    invoke(method: WorkbenchMethod, params: unknown): Promise<Reply> {
      if (state === 'closed') return Promise.reject(new ApiError(TRANSPORT_CLOSED, 'the connection to the engine is closed'));
      const id = nextId++;
      const message = JSON.stringify({ kind: 'request', id, method, params });
      return new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        if (socket.readyState === OPEN) socket.send(message);
        else unsent.push(message);
      });
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    close() {
      socket.close();
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function replyError(error: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (!isObject(error)) return { code: 'internal', message: 'the engine reported an error without details' };
  const code = typeof error.code === 'string' ? error.code : 'internal';
  const message = typeof error.message === 'string' ? error.message : 'unknown error';
  return isObject(error.details) ? { code, message, details: error.details } : { code, message };
}

/** ws://host/api?token=… for the page's own origin (the server serves both). */
export function engineSocketUrl(location: Pick<Location, 'host' | 'protocol' | 'search'>): string | null {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) return null;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api?token=${encodeURIComponent(token)}`;
}
