/**
 * The WebSocket transport (DESIGN.md, "Layout"): the renderer in a plain browser talks to
 * a headless engine. Loopback only, and everything behind a random token:
 *
 *   GET  /?token=T          the renderer's index.html; sets a cookie so the page's own
 *                           assets (/assets/...) load without the token in their URLs
 *   GET  /<file>            a file of the built renderer (token or cookie required)
 *   WS   /api?token=T       the API (messages: engine/workbench/protocol.ts, "wire format")
 *
 * Upgrades need the token (401 otherwise) and, when the client sends an Origin, one of
 * this server's own origins or an explicitly allowed one (403 otherwise), so another
 * web page in the user's browser can neither load the UI nor drive the engine. The Host
 * header must name the loopback address too, which defeats DNS rebinding.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { WireEvent, WireResponse, WorkbenchApi } from '../engine/api';
import { contentSecurityPolicy } from './csp';
import { dispatch } from './dispatch';
import { resolveStaticPath, sendFile } from './static-files';

export const HOST = '127.0.0.1';
/** Experiments carry vectors and cached results; far beyond that is a mistake or an attack. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface ServerOptions {
  api: WorkbenchApi;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default: 32 random bytes as hex. */
  token?: string;
  /** The built renderer; null serves no UI (API only). */
  rendererDir: string | null;
  /** Origins besides this server's own that may open the API socket (e.g. a Vite dev server). */
  allowedOrigins?: string[];
  maxMessageBytes?: number;
}

export interface RunningServer {
  port: number;
  token: string;
  /** The page to open: http://127.0.0.1:PORT/?token=TOKEN */
  url: string;
  close(): Promise<void>;
}

type Verdict = { ok: true } | { ok: false; status: number; reason: string };

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(32).toString('hex');
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? MAX_MESSAGE_BYTES });
  const http = createServer();
  let port = 0;

  const cookieName = (): string => `tiller-token-${port}`; // cookies ignore ports: one name per server
  const ownOrigins = (): string[] => [`http://${HOST}:${port}`, `http://localhost:${port}`];
  const tokenMatches = (candidate: string | null | undefined): boolean => {
    if (!candidate) return false;
    const given = Buffer.from(candidate);
    const expected = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const hostMatches = (request: IncomingMessage): boolean => ownOrigins().some((origin) => origin === `http://${request.headers.host ?? ''}`);

  function checkUpgrade(request: IncomingMessage, url: URL): Verdict {
    if (url.pathname !== '/api') return { ok: false, status: 404, reason: 'the API is at /api' };
    if (!hostMatches(request)) return { ok: false, status: 403, reason: 'wrong Host header' };
    if (!tokenMatches(url.searchParams.get('token'))) return { ok: false, status: 401, reason: 'missing or wrong token' };
    const origin = request.headers.origin;
    if (origin !== undefined && ![...ownOrigins(), ...(options.allowedOrigins ?? [])].includes(origin)) {
      return { ok: false, status: 403, reason: `origin ${origin} is not allowed` };
    }
    return { ok: true };
  }

  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', `http://${HOST}`);
    const verdict = checkUpgrade(request, url);
    if (!verdict.ok) {
      refuseUpgrade(socket, verdict.status, verdict.reason);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => serveSocket(ws, options.api));
  });

  http.on('request', (request: IncomingMessage, response: ServerResponse) => {
    response.setHeader('Content-Security-Policy', contentSecurityPolicy({ connect: [`ws://${HOST}:${port}`, `ws://localhost:${port}`] }));
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('Cache-Control', 'no-store');
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
    if (!hostMatches(request)) return sendText(response, 403, 'wrong Host header');
    const url = new URL(request.url ?? '/', `http://${HOST}`);
    const viaQuery = tokenMatches(url.searchParams.get('token'));
    if (!viaQuery && !tokenMatches(readCookie(request, cookieName()))) return sendText(response, 401, 'missing or wrong token: open the URL that `npm run serve` printed');
    if (viaQuery) response.setHeader('Set-Cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    if (url.pathname === '/api') return sendText(response, 426, 'the API is a WebSocket', { Upgrade: 'websocket' });
    if (options.rendererDir === null) return sendText(response, 404, 'this engine serves no UI');
    const file = resolveStaticPath(options.rendererDir, url.pathname);
    if (!file) return sendText(response, 404, 'not found (is the renderer built? run `npm run build`)');
    sendFile(response, file, request.method === 'HEAD');
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, HOST, () => {
      http.off('error', reject);
      resolve();
    });
  });
  port = (http.address() as AddressInfo).port;

  return {
    port,
    token,
    url: `http://${HOST}:${port}/?token=${token}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** One client: each text frame is a request, every engine event is forwarded while the socket is open. */
function serveSocket(ws: WebSocket, api: WorkbenchApi): void {
  const send = (message: WireResponse | WireEvent): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const unsubscribe = api.onEvent((event) => send({ kind: 'event', event }));
  ws.on('close', unsubscribe);
  ws.on('error', () => ws.terminate());
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      send({ kind: 'response', id: null, ok: false, error: { code: 'bad_request', message: 'binary frames are not accepted; send JSON text' } });
      return;
    }
    // dispatch answers every error itself; a failure to send (a closed socket) is the client's loss only.
    dispatch(api, rawText(data))
      .then(send)
      .catch(() => ws.terminate());
  });
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

function sendText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  response.end(`${text}\n`);
}

function readCookie(request: IncomingMessage, name: string): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return null;
}
