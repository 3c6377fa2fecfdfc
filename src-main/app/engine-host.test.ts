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
