/**
 * What the app's window may load and where it may go (Electron security checklist:
 * no remote content, no navigation, no new windows). URLs are parsed and compared by
 * origin and scheme, never by string prefix.
 */

/** The renderer's own pages: the built files (file://) or, in development, the Vite dev server. */
export interface AppOrigins {
  /** The renderer folder's file:// URL, ending in '/'. */
  rendererRoot: string;
  /** ELECTRON_RENDERER_URL during `electron-vite dev`; null in a built app. */
  devServer: string | null;
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** A URL of the renderer itself (used to check who sends IPC). */
export function isAppUrl(url: string, origins: AppOrigins): boolean {
  const parsed = parse(url);
  if (!parsed) return false;
  if (parsed.protocol === 'file:') {
    const root = parse(origins.rendererRoot);
    return root !== null && parsed.pathname.startsWith(root.pathname);
  }
  const dev = origins.devServer ? parse(origins.devServer) : null;
  return dev !== null && parsed.origin === dev.origin;
}

/**
 * Whether the session may fetch `url`: the renderer's files, in-page data, DevTools,
 * and in development the dev server (HTTP and its hot-reload WebSocket). Nothing remote.
 */
export function isAllowedRequest(url: string, origins: AppOrigins): boolean {
  const parsed = parse(url);
  if (!parsed) return false;
  if (['data:', 'blob:', 'devtools:'].includes(parsed.protocol)) return true;
  if (parsed.protocol === 'file:') return isAppUrl(url, origins);
  const dev = origins.devServer ? parse(origins.devServer) : null;
  if (!dev) return false;
  const wsOrigin = `${dev.protocol === 'https:' ? 'wss:' : 'ws:'}//${dev.host}`;
  return parsed.origin === dev.origin || `${parsed.protocol}//${parsed.host}` === wsOrigin;
}

/** Links the user clicks open in the system browser, and only https ones; the app window never navigates. */
export function externalUrlToOpen(url: string): string | null {
  const parsed = parse(url);
  return parsed && parsed.protocol === 'https:' ? parsed.href : null;
}
