/**
 * Test-only client of the WebSocket transport: speaks the wire format of
 * engine/workbench/protocol.ts as the renderer does, and collects events.
 */
import WebSocket from 'ws';
import type { WireResponse, WorkbenchEvent, WorkbenchMethod } from '../engine/api';

export class TestClient {
  readonly events: WorkbenchEvent[] = [];
  private readonly responses: WireResponse[] = [];
  private readonly waiters: (() => void)[] = [];
  private nextId = 1;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as WireResponse | { kind: 'event'; event: WorkbenchEvent };
      if (message.kind === 'event') this.events.push(message.event);
      else this.responses.push(message);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const socket = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Resolves once `check` holds (checked after every message), or rejects after timeoutMs. */
  async until<T>(check: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error('timed out waiting for a message');
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, 250);
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /** Send raw text (malformed messages included) and wait for the next response with `id`. */
  async sendRaw(text: string, id: number | null): Promise<WireResponse> {
    this.socket.send(text);
    return this.until(() => this.take(id));
  }

  async call(method: WorkbenchMethod | string, params: unknown = {}): Promise<WireResponse> {
    const id = this.nextId++;
    return this.sendRaw(JSON.stringify({ kind: 'request', id, method, params }), id);
  }

  /** The result of a call that must succeed. */
  async result<T>(method: WorkbenchMethod, params: unknown = {}): Promise<T> {
    const response = await this.call(method, params);
    if (!response.ok) throw new Error(`${method} failed: ${response.error.code}: ${response.error.message}`);
    return response.result as T;
  }

  private take(id: number | null): WireResponse | undefined {
    const index = this.responses.findIndex((response) => response.id === id);
    return index < 0 ? undefined : this.responses.splice(index, 1)[0];
  }

  /** Resolves with the close code once the server closes the socket. */
  closed(): Promise<number> {
    return new Promise((resolve) => this.socket.once('close', (code) => resolve(code)));
  }

  close(): void {
    this.socket.close();
  }
}

/** The HTTP status a refused upgrade gets (101 when it is accepted). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const socket = new WebSocket(url, { headers });
  return new Promise((resolve) => {
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.close();
    });
    socket.once('error', () => undefined); // the status is reported above
  });
}
