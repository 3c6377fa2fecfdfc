/** `npm run serve`'s program as a user runs it: one line on stdout, a working socket, a clean exit. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineStatus } from '../engine/api';
import { sharedPath } from '../test/shared-paths';
import { TestClient } from '../test/ws-client';

const ROOT = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tiller-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function serve(...args: string[]): { child: ChildProcessWithoutNullStreams; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/transport/serve.ts', ...args], { cwd: ROOT, env: { ...process.env, TILLER_CACHE_DIR: join(dir, 'cache') } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

describe('serve', () => {
  it('prints exactly one line with the URL, serves the API, and exits on SIGTERM', async () => {
    const run = serve('--model', sharedPath('models', 'stories260K-hf'), '--app-data', join(dir, 'app-data'), '--threads', '1');
    await expect.poll(run.stdout, { timeout: 60_000, interval: 100 }).toContain('\n');
    const match = /^Tiller engine: http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{64})\n$/.exec(run.stdout());
    expect(match, `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`).not.toBeNull();
    const [, port, token] = match ?? [];

    const client = await TestClient.connect(`ws://127.0.0.1:${port}/api?token=${token}`);
    const status = await client.result<EngineStatus>('status');
    expect(status).toMatchObject({ state: 'idle', transport: 'websocket', model: { path: sharedPath('models', 'stories260K-hf'), nLayers: 5 } });
    client.close();

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.stdout().split('\n')).toHaveLength(2); // the line and its newline, nothing else
    expect(run.stderr()).toContain('loaded');
  });

  it('loads --model with --weights int4: a conversion progress line on stderr, the format in the status', async () => {
    const run = serve('--model', sharedPath('models', 'stories260K-hf'), '--weights', 'int4', '--cache-dir', join(dir, 'cache-int4'), '--app-data', join(dir, 'app-data'), '--threads', '1');
    await expect.poll(run.stdout, { timeout: 60_000, interval: 100 }).toContain('\n');
    const [, port, token] = /127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{64})/.exec(run.stdout()) ?? [];
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/api?token=${token}`);
    const status = await client.result<EngineStatus>('status');
    expect(status.model?.weights).toEqual({ format: 'int4', blockSize: 32, accuracyLevel: 4 });
    client.close();
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toMatch(/converting to int4-b32-a4: \d+ \/ \d+ MB, \d+ MB\/s\n/);
    expect(run.stderr()).toContain('int4-b32-a4 weights');
  });

  it('exits 2 naming a bad flag, and 1 naming a model that does not load', async () => {
    const badFlag = serve('--port', 'eighty');
    expect(await badFlag.exit).toBe(2);
    expect(badFlag.stderr()).toContain('--port: must be a whole number');
    expect(badFlag.stdout()).toBe('');

    const badModel = serve('--model', join(dir, 'nothing'), '--app-data', join(dir, 'app-data'));
    expect(await badModel.exit).toBe(1);
    expect(badModel.stderr()).toContain('error (not_found)');
    expect(badModel.stdout()).toBe('');
  });
});
