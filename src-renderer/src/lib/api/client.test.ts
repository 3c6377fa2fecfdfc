import { describe, expect, it, vi } from 'vitest';
import type { WorkbenchEvent } from './types';
import { createWorkbenchApi } from './client';
import { ApiError, errorHeadline, issueLines, TRANSPORT_CLOSED } from './errors';
import { createIpcTransport } from './ipc';
import { createWebSocketTransport, engineSocketUrl, type SocketLike } from './websocket';

/** A socket the test drives: it records what the client sends and delivers what the "server" says. */
class MockSocket implements SocketLike {
  readyState = 0;
  sent: { kind: string; id: number; method: string; params: unknown }[] = [];
  closed = false;
  private listeners = new Map<string, ((event: { data: unknown }) => void)[]>();

  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.closed = true;
    this.fire('close', undefined);
  }
  open(): void {
    this.readyState = 1;
    this.fire('open', undefined);
  }
  receive(message: unknown): void {
    this.fire('message', typeof message === 'string' ? message : JSON.stringify(message));
  }
  private fire(type: string, data: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ data });
  }
}

function connected() {
  const socket = new MockSocket();
  const transport = createWebSocketTransport(socket);
  const api = createWorkbenchApi(transport);
  socket.open();
  return { socket, transport, api };
}

describe('WebSocket client', () => {
  it('sends requests in the wire format with increasing ids', async () => {
    const { socket, api } = connected();
    void api.status({});
    void api.loadModel({ path: '/m' });
    expect(socket.sent).toEqual([
      { kind: 'request', id: 1, method: 'status', params: {} },
      { kind: 'request', id: 2, method: 'loadModel', params: { path: '/m' } },
    ]);
  });

  it('matches responses to requests by id, in any order', async () => {
    const { socket, api } = connected();
    const first = api.tokenize({ text: 'a' });
    const second = api.tokenize({ text: 'b' });
    socket.receive({ kind: 'response', id: 2, ok: true, result: { ids: [2], tokens: ['b'] } });
    socket.receive({ kind: 'response', id: 1, ok: true, result: { ids: [1], tokens: ['a'] } });
    await expect(first).resolves.toEqual({ ids: [1], tokens: ['a'] });
    await expect(second).resolves.toEqual({ ids: [2], tokens: ['b'] });
  });

  it('resolves void methods whose response carries null', async () => {
    const { socket, api } = connected();
    const done = api.cancel({ runId: 'r' });
    socket.receive({ kind: 'response', id: 1, ok: true, result: null });
    await expect(done).resolves.toBeNull();
  });

  it('turns ok:false into an ApiError with code, message and details', async () => {
    const { socket, api } = connected();
    const call = api.generate({ prompt: { text: 'x' }, settings: {}, variants: [] });
    socket.receive({ kind: 'response', id: 1, ok: false, error: { code: 'bad_plan', message: 'variant 1: bad', details: { issues: [{ path: 'interventions.0.vector', message: 'empty' }] } } });
    const error = await call.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'bad_plan', message: 'variant 1: bad', details: { issues: [{ path: 'interventions.0.vector', message: 'empty' }] } });
  });

  it('delivers events to every listener until it unsubscribes', () => {
    const { socket, api } = connected();
    const a = vi.fn();
    const b = vi.fn();
    const stopA = api.onEvent(a);
    api.onEvent(b);
    const event: WorkbenchEvent = { type: 'menu', command: 'save', path: null };
    socket.receive({ kind: 'event', event });
    stopA();
    socket.receive({ kind: 'event', event });
    expect(a).toHaveBeenCalledTimes(1);
    expect(a).toHaveBeenCalledWith(event);
    expect(b).toHaveBeenCalledTimes(2);
  });

  it('holds requests made before the socket opens', () => {
    const socket = new MockSocket();
    const api = createWorkbenchApi(createWebSocketTransport(socket));
    void api.status({});
    expect(socket.sent).toEqual([]);
    socket.open();
    expect(socket.sent).toEqual([{ kind: 'request', id: 1, method: 'status', params: {} }]);
  });

  it('fails pending and later requests when the socket closes', async () => {
    const { socket, transport, api } = connected();
    const states: string[] = [];
    transport.onConnection((state) => states.push(state));
    const pending = api.listRecent({});
    socket.close();
    await expect(pending).rejects.toMatchObject({ code: TRANSPORT_CLOSED });
    await expect(api.status({})).rejects.toMatchObject({ code: TRANSPORT_CLOSED });
    expect(states).toEqual(['closed']);
  });

  it('ignores messages that are not JSON, and replies to unknown ids', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { socket, api } = connected();
    const call = api.status({});
    socket.receive('not json');
    socket.receive({ kind: 'response', id: 99, ok: true, result: 1 });
    socket.receive({ kind: 'response', id: 1, ok: true, result: { state: 'idle' } });
    await expect(call).resolves.toEqual({ state: 'idle' });
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
  });

  it('builds the socket URL from the page address and its token', () => {
    expect(engineSocketUrl({ protocol: 'http:', host: '127.0.0.1:5000', search: '?token=ab%2Fc' })).toBe('ws://127.0.0.1:5000/api?token=ab%2Fc');
    expect(engineSocketUrl({ protocol: 'http:', host: '127.0.0.1:5000', search: '' })).toBeNull();
  });
});

describe('IPC client', () => {
  it('forwards calls to window.tiller and maps its errors the same way', async () => {
    const invoke = vi.fn(async (method: string) =>
      method === 'status' ? { ok: true as const, result: { state: 'idle' } } : { ok: false as const, error: { code: 'not_found' as const, message: 'no such file' } },
    );
    const unsubscribe = vi.fn();
    const onEvent = vi.fn(() => unsubscribe);
    const api = createWorkbenchApi(createIpcTransport({ invoke, onEvent }));
    await expect(api.status({})).resolves.toEqual({ state: 'idle' });
    await expect(api.openExperiment({ path: '/x' })).rejects.toMatchObject({ name: 'ApiError', code: 'not_found', message: 'no such file' });
    expect(invoke).toHaveBeenCalledWith('openExperiment', { path: '/x' });
    const listener = vi.fn();
    expect(api.onEvent(listener)).toBe(unsubscribe);
    expect(onEvent).toHaveBeenCalledWith(listener);
  });

  it('rejects a malformed reply', async () => {
    const api = createWorkbenchApi(createIpcTransport({ invoke: async () => ({ nonsense: true }) as never, onEvent: () => () => {} }));
    await expect(api.status({})).rejects.toMatchObject({ code: 'bad_reply' });
  });
});

describe('error headline', () => {
  it('drops the issue list the message repeats when details carry it', () => {
    const issues = [
      { path: 'createdAt', message: 'missing (expected string)' },
      { path: 'variants[0].interventions[0].vector', message: 'expected array, received string' },
    ];
    const error = new ApiError('bad_experiment', '/data/x.tiller.json: invalid experiment: createdAt: missing (expected string); variants[0].interventions[0].vector: expected array, received string', { issues });
    expect(errorHeadline(error)).toBe('/data/x.tiller.json: invalid experiment');
    expect(issueLines(error)).toHaveLength(2);
    expect(errorHeadline(new ApiError('not_found', 'cannot open /x'))).toBe('cannot open /x');
  });
});
