/** The WebSocket server's locks: token, origin, host, static files inside the root only, message size. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workbench } from '../engine/api';
import { TestClient, upgradeStatus } from '../test/ws-client';
import { startServer, type RunningServer } from './ws-server';

const dir = mkdtempSync(join(tmpdir(), 'tiller-ws-'));
const rendererDir = join(dir, 'renderer');
let workbench: Workbench;
let server: RunningServer;

beforeAll(async () => {
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Tiller</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log("tiller")');
  writeFileSync(join(dir, 'secret.txt'), 'SECRET');
  symlinkSync(join(dir, 'secret.txt'), join(rendererDir, 'assets', 'link.txt'));
  workbench = new Workbench({ appDataDir: join(dir, 'app-data'), engine: { cacheDir: join(dir, 'cache') }, transport: 'websocket' });
  server = await startServer({ api: workbench, rendererDir, maxMessageBytes: 64 * 1024, allowedOrigins: ['http://localhost:5173'] });
});

afterAll(async () => {
  await server.close();
  await workbench.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw HTTP request: the path goes out exactly as written (fetch would normalise "..") */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const api = (token: string | null): string => `ws://127.0.0.1:${server.port}/api${token === null ? '' : `?token=${token}`}`;

describe('WebSocket server', () => {
  it('listens on 127.0.0.1 with a 64-hex-digit token in its URL', () => {
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
  });

  it('refuses API connections without the right token (401)', async () => {
    expect(await upgradeStatus(api(null))).toBe(401);
    expect(await upgradeStatus(api('0'.repeat(64)))).toBe(401);
    expect(await upgradeStatus(api(server.token.slice(1)))).toBe(401);
    expect(await upgradeStatus(api(server.token))).toBe(101);
  });

  it('refuses API connections from a foreign origin (403), accepts its own and allowed ones', async () => {
    expect(await upgradeStatus(api(server.token), { Origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(api(server.token), { Origin: 'null' })).toBe(403);
    expect(await upgradeStatus(api(server.token), { Origin: `http://127.0.0.1:${server.port}` })).toBe(101);
    expect(await upgradeStatus(api(server.token), { Origin: 'http://localhost:5173' })).toBe(101);
  });

  it('refuses a Host header that is not the loopback address (DNS rebinding)', async () => {
    expect(await upgradeStatus(api(server.token), { Host: `attacker.example:${server.port}` })).toBe(403);
    expect((await get(`/?token=${server.token}`, { Host: 'attacker.example' })).status).toBe(403);
  });

  it('answers requests over the socket', async () => {
    const client = await TestClient.connect(api(server.token));
    expect(await client.result('status')).toMatchObject({ state: 'idle', model: null, transport: 'websocket', nativeDialogs: false });
    const bad = await client.sendRaw('not json', null);
    expect(bad).toMatchObject({ ok: false, id: null, error: { code: 'bad_request' } });
    client.close();
  });

  it('closes a connection that sends a message over the size limit', async () => {
    const client = await TestClient.connect(api(server.token));
    const closed = client.closed();
    void client.call('tokenize', { text: 'x'.repeat(100 * 1024) });
    expect(await closed).toBe(1009); // "message too big"
  });

  it('serves the UI only with the token, then by cookie', async () => {
    expect((await get('/')).status).toBe(401);
    expect((await get('/?token=wrong')).status).toBe(401);
    const page = await get(`/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Tiller</title>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain(`connect-src 'self' ws://127.0.0.1:${server.port}`);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const cookie = (page.headers['set-cookie'] ?? [])[0].split(';')[0];
    expect(cookie).toBe(`tiller-token-${server.port}=${server.token}`);
    expect(page.headers['set-cookie']?.[0]).toContain('HttpOnly');
    expect(page.headers['set-cookie']?.[0]).toContain('SameSite=Strict');

    expect((await get('/assets/app.js')).status).toBe(401);
    const asset = await get('/assets/app.js', { Cookie: cookie });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.body).toBe('console.log("tiller")');
    expect((await get('/assets/app.js', { Cookie: `tiller-token-${server.port}=${'0'.repeat(64)}` })).status).toBe(401);
  });

  it('never serves a file outside the renderer folder', async () => {
    const token = `token=${server.token}`;
    for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/%00index.html', '/%E0%A4%A']) {
      const response = await get(`${path}?${token}`);
      expect(response.status, path).toBe(404);
      expect(response.body).not.toContain('SECRET');
    }
    // A symlink inside the folder that points out of it is outside too.
    expect((await get(`/assets/link.txt?${token}`)).status).toBe(404);
    expect((await get(`/assets?${token}`)).status).toBe(404); // folders are not listed
  });

  it('accepts only GET and HEAD', async () => {
    const post = await get(`/?token=${server.token}`, {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await get(`/?token=${server.token}`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });
});
