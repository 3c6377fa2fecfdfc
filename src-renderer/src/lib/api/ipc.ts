/**
 * The Electron transport: the preload's `window.tiller` bridge. It already speaks
 * replies ({ ok, result } | { ok, error }) and events, so it is a Transport as it is.
 */
import type { Transport } from './client';
import type { TillerBridge } from './types';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in a plain browser. */
    tiller?: TillerBridge;
  }
}

export function createIpcTransport(bridge: TillerBridge): Transport {
  return {
    invoke: (method, params) => bridge.invoke(method, params),
    onEvent: (listener) => bridge.onEvent(listener),
  };
}
