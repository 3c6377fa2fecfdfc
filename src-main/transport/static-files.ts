/**
 * Serving the built renderer (out/renderer) to a browser. Only files under the root can
 * be reached: the URL path is decoded once, resolved against the root, and both the
 * resolved path and its real path (after symlinks) must stay inside the root.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

const inside = (root: string, path: string): boolean => path === root || path.startsWith(root + sep);

/** The file a URL path names under `root`, or null when it is outside, missing or not a file. */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // malformed percent-encoding
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  let realRoot: string;
  let realFile: string;
  try {
    realRoot = realpathSync(root);
    const candidate = resolve(realRoot, relative);
    if (!inside(realRoot, candidate)) return null;
    realFile = realpathSync(candidate);
  } catch {
    return null; // the root or the file does not exist
  }
  if (!inside(realRoot, realFile) || !statSync(realFile).isFile()) return null;
  return realFile;
}

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Send `file` (already resolved by resolveStaticPath); HEAD gets the headers only. */
export function sendFile(response: ServerResponse, file: string, headOnly: boolean): void {
  response.writeHead(200, { 'Content-Type': contentType(file), 'Content-Length': statSync(file).size });
  if (headOnly) {
    response.end();
    return;
  }
  createReadStream(file)
    .on('error', () => response.destroy())
    .pipe(response);
}
