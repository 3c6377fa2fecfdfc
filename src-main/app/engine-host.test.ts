/**
 * The app's engine process and main's host for it, without Electron: engine-process.ts
 * runs in a Node child process whose parentPort is emulated over Node IPC, and the host
 * gets that child through the same `spawn` seam main.ts fills with utilityProcess.fork.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineStatus, WireRequest, WorkbenchEvent } from '../engine/api';
import { sharedPath } from '../test/shared-paths';
import { EngineHost, type EngineChild } from './engine-host';

const dir = mkdtempSync(join(tmpdir(), 'tiller-engine-host-'));
const events: WorkbenchEvent[] = [];
const children: ChildProcess[] = [];

function spawnEngine(): EngineChild {
  const child = fork(resolve(__dirname, 'engine-process.ts'), ['--app-data', join(dir, 'app-data'), '--cache-dir', join(dir, 'cache')], {
    execArgv: ['--require', resolve(__dirname, '..', 'test', 'fake-parent-port.cjs'), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  child.on('error', () => undefined); // a send racing the kill below; the exit is what the host sees
  return {
    postMessage: (message) => child.send(message as object),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.on('exit', (code) => listener(code)),
    kill: () => child.kill(),
  };
}

const host = new EngineHost({ spawn: spawnEngine, onEvent: (event) => events.push(event) });
const request = (id: number, method: WireRequest['method'], params: unknown = {}): WireRequest => ({ kind: 'request', id, method, params });

afterAll(async () => {
  await host.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('engine process and host', () => {
  it('answers requests with the caller’s ids, as the IPC engine with dialogs', async () => {
    host.start();
    const [status, recent] = await Promise.all([host.call(request(7, 'status')), host.call(request(7, 'listRecent'))]);
    expect(status).toMatchObject({ id: 7, ok: true, result: { state: 'idle', transport: 'ipc', nativeDialogs: true, model: null } });
    expect(recent).toEqual({ kind: 'response', id: 7, ok: true, result: [] });
  });

  it('validates again in the engine process with the shared dispatcher', async () => {
    const response = await host.call(request(8, 'loadModel', { path: 42 }));
    expect(response).toMatchObject({ id: 8, ok: false, error: { code: 'bad_request' } });
  });

  it('passes engine events on', async () => {
    const loaded = await host.call(request(9, 'loadModel', { path: sharedPath('models', 'stories260K-hf') }));
    expect(loaded).toMatchObject({ ok: true, result: { nLayers: 5 } });
    const states = events.flatMap((event) => (event.type === 'status' ? [event.status.state] : []));
    expect(states).toEqual(['loading', 'idle']);
  });

  it('reports a crash to pending calls and as a status event, then restarts', async () => {
    // Killed first, so the call is still pending when the exit arrives (as a native crash would end it).
    children[children.length - 1].kill('SIGKILL');
    const pending = host.call(request(10, 'listHooks'));
    const answer = await pending;
    expect(answer).toMatchObject({ id: 10, ok: false, error: { code: 'runtime_error' } });
    const crash = events[events.length - 1];
    expect(crash).toMatchObject({ type: 'status', status: { state: 'crashed', model: null, error: { code: 'runtime_error' } } });
    expect(host.crashStatus?.state).toBe('crashed');
    expect(await host.call(request(11, 'status'))).toMatchObject({ ok: false, error: { message: expect.stringContaining('restart') } });

    await host.restart();
    expect(host.crashStatus).toBeNull();
    const status = await host.call(request(12, 'status'));
    expect(status.ok && (status.result as EngineStatus)).toMatchObject({ state: 'idle', model: null });
  });

  it('stops without reporting a crash', async () => {
    const before = events.length;
    await host.stop();
    expect(events.length).toBe(before);
    expect(host.crashStatus).toBeNull();
  });
});

/** A child that only records what it is sent; the test speaks for the engine and decides when it dies. */
function fakeChild() {
  const sent: WireRequest[] = [];
  let receive: (message: unknown) => void = () => {};
  let exit: (code: number | null) => void = () => {};
  const child: EngineChild = {
    postMessage: (message) => sent.push(message as WireRequest),
    onMessage: (listener) => (receive = listener),
    onExit: (listener) => (exit = listener),
    kill: () => exit(null),
  };
  return { child, sent, receive: (message: unknown) => receive(message), exit: (code: number | null) => exit(code) };
}

describe('engine host runs', () => {
  const generate = (id: number): WireRequest => request(id, 'generate', { prompt: { text: 'x', chat: false }, settings: {}, variants: [] });
  const token = (runId: string) => ({ kind: 'event', event: { type: 'token', runId, variant: 0, index: 0, token: { id: 1, text: 'a', logprob: 0 } } });

  it('ends the runs in progress with an error event when the engine dies, before the crash status', async () => {
    const fake = fakeChild();
    const seen: WorkbenchEvent[] = [];
    const host = new EngineHost({ spawn: () => fake.child, onEvent: (event) => seen.push(event) });
    host.start();
    // run-a: answered, then streams; run-b: finished before the crash; run-c: a token before its answer.
    const answers = [host.call(generate(1)), host.call(generate(2)), host.call(generate(3))];
    fake.receive({ kind: 'response', id: fake.sent[0].id, ok: true, result: { runId: 'run-a', promptIds: [1] } });
    fake.receive(token('run-a'));
    fake.receive({ kind: 'event', event: { type: 'done', runId: 'run-b', results: { ranAt: '', provider: 'cpu', promptIds: [1], variants: [] } } });
    fake.receive({ kind: 'response', id: fake.sent[1].id, ok: true, result: { runId: 'run-b', promptIds: [1] } });
    fake.receive(token('run-c'));
    fake.exit(139);

    expect(await answers[0]).toMatchObject({ id: 1, ok: true, result: { runId: 'run-a' } });
    expect(await answers[2]).toMatchObject({ id: 3, ok: false, error: { code: 'runtime_error' } });
    const afterTokens = seen.filter((event) => event.type !== 'token' && event.type !== 'done');
    expect(afterTokens.map((event) => (event.type === 'error' ? `error ${event.runId}` : event.type))).toEqual(['error run-a', 'error run-c', 'status']);
    expect(afterTokens[0]).toMatchObject({ error: { code: 'runtime_error', message: expect.stringContaining('exited unexpectedly (code 139)') } });
  });

  it('forgets runs that ended, and ends a running one when restarted', async () => {
    const first = fakeChild();
    const second = fakeChild();
    const children = [first, second];
    const seen: WorkbenchEvent[] = [];
    const host = new EngineHost({ spawn: () => children.shift()!.child, onEvent: (event) => seen.push(event) });
    host.start();
    const done = host.call(generate(1));
    first.receive({ kind: 'response', id: first.sent[0].id, ok: true, result: { runId: 'run-1', promptIds: [1] } });
    await done;
    first.receive({ kind: 'event', event: { type: 'error', runId: 'run-1', error: { code: 'cancelled', message: 'cancelled' } } });
    const running = host.call(generate(2));
    first.receive({ kind: 'response', id: first.sent[1].id, ok: true, result: { runId: 'run-2', promptIds: [1] } });
    await running;
    await host.restart();
    expect(seen.slice(1)).toEqual([{ type: 'error', runId: 'run-2', error: { code: 'runtime_error', message: 'the engine was stopped' } }]);
    expect(host.crashStatus).toBeNull();
  });
});
