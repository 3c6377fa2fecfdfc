/**
 * Model downloads against a local HTTP server (no network in tests): progress events,
 * sha256 and size verification, the atomic move into place, and nothing partial left
 * behind when anything goes wrong.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../../test/shared-paths';
import type { CatalogEntry } from './catalog';
import { bundledCatalog, describeCatalog } from './catalog';
import { ModelDownloads } from './download';
import type { WorkbenchEvent } from './protocol';

type DownloadEvent = Extract<WorkbenchEvent, { type: 'download' }>;

const WEIGHTS = Buffer.alloc(300_000, 7); // streamed in slow chunks, so progress events show
const TOKENIZER = Buffer.from('tokenizer bytes');
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let server: Server;
let base = '';
const dir = mkdtempSync(join(tmpdir(), 'tiller-download-'));

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/weights.bin') {
      response.writeHead(200, { 'Content-Length': WEIGHTS.length });
      let offset = 0;
      const timer = setInterval(() => {
        response.write(WEIGHTS.subarray(offset, offset + 50_000));
        offset += 50_000;
        if (offset >= WEIGHTS.length) {
          clearInterval(timer);
          response.end();
        }
      }, 40);
      return;
    }
    if (request.url === '/tokenizer.bin') return void response.end(TOKENIZER);
    if (request.url === '/tampered.bin') return void response.end(Buffer.from('tokenizer bytez'));
    if (request.url === '/huge.bin') return void response.end(Buffer.alloc(TOKENIZER.length * 4));
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function entry(id: string, tokenizerPath = '/tokenizer.bin'): CatalogEntry {
  return {
    id,
    name: `Model ${id}`,
    description: 'test model',
    entry: 'weights.bin',
    files: [
      { name: 'weights.bin', url: `${base}/weights.bin`, sha256: sha256(WEIGHTS), bytes: WEIGHTS.length },
      { name: 'tokenizer.bin', url: `${base}${tokenizerPath}`, sha256: sha256(TOKENIZER), bytes: TOKENIZER.length },
    ],
  };
}

/** Download `model` into a fresh models folder; resolves with every event once the last arrives. */
function download(modelsDir: string, model: CatalogEntry): Promise<DownloadEvent[]> {
  return new Promise((resolve) => {
    const events: DownloadEvent[] = [];
    const downloads = new ModelDownloads(modelsDir, (event) => {
      events.push(event);
      if (event.state !== 'running') resolve(events);
    });
    downloads.start(model);
  });
}

describe('model downloads', () => {
  it('downloads, reports progress, verifies and moves the folder into place', async () => {
    const modelsDir = join(dir, 'ok');
    const model = entry('good');
    expect(describeCatalog(modelsDir, [model])[0]).toMatchObject({ id: 'good', installed: false, bytes: WEIGHTS.length + TOKENIZER.length });
    const events = await download(modelsDir, model);
    const last = events[events.length - 1];
    expect(last).toMatchObject({ type: 'download', modelId: 'good', state: 'done', error: null, receivedBytes: WEIGHTS.length + TOKENIZER.length });
    expect(last.path).toBe(join(modelsDir, 'good', 'weights.bin'));
    const running = events.filter((event) => event.state === 'running');
    expect(running.length).toBeGreaterThanOrEqual(3);
    expect(running[0].receivedBytes).toBe(0);
    expect(running.every((event) => event.totalBytes === WEIGHTS.length + TOKENIZER.length)).toBe(true);
    // Progress only grows, and every event names the same download.
    expect(running.map((event) => event.receivedBytes)).toEqual([...running.map((event) => event.receivedBytes)].sort((a, b) => a - b));
    expect(new Set(events.map((event) => event.downloadId)).size).toBe(1);
    expect(readFileSync(join(modelsDir, 'good', 'tokenizer.bin'))).toEqual(TOKENIZER);
    expect(readdirSync(modelsDir)).toEqual(['good']); // no staging folder left
    expect(describeCatalog(modelsDir, [model])[0]).toMatchObject({ installed: true, path: join(modelsDir, 'good', 'weights.bin') });
  });

  it('refuses a file whose sha256 does not match, leaving nothing behind', async () => {
    const modelsDir = join(dir, 'tampered');
    const events = await download(modelsDir, entry('tampered', '/tampered.bin'));
    const last = events[events.length - 1];
    expect(last).toMatchObject({ state: 'error', path: null, error: { code: 'bad_model_file' } });
    expect(last.error?.message).toContain(`expected ${sha256(TOKENIZER)}`);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('stops reading a file that is larger than the manifest says', async () => {
    const modelsDir = join(dir, 'huge');
    const events = await download(modelsDir, entry('huge', '/huge.bin'));
    expect(events[events.length - 1]).toMatchObject({ state: 'error', error: { code: 'bad_model_file' } });
    expect(events[events.length - 1].error?.message).toContain('larger than the expected');
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('reports an HTTP error and leaves nothing behind', async () => {
    const modelsDir = join(dir, 'missing');
    const events = await download(modelsDir, entry('missing', '/nothing-here.bin'));
    expect(events[events.length - 1]).toMatchObject({ state: 'error', error: { code: 'not_found' } });
    expect(events[events.length - 1].error?.message).toContain('HTTP 404');
    expect(existsSync(join(modelsDir, 'missing'))).toBe(false);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('refuses a second download of the same model while one runs', async () => {
    const modelsDir = join(dir, 'twice');
    const events: DownloadEvent[] = [];
    const downloads = new ModelDownloads(modelsDir, (event) => events.push(event));
    downloads.start(entry('twice'));
    expect(() => downloads.start(entry('twice'))).toThrow('already downloading');
    downloads.cancelAll();
    await expect.poll(() => events.some((event) => event.state === 'error')).toBe(true);
    expect(events[events.length - 1].error?.code).toBe('cancelled');
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('ships a valid catalog whose files are llama2.c stories260K from Hugging Face', () => {
    const catalog = bundledCatalog();
    const stories = catalog.find((model) => model.id === 'stories260K');
    expect(stories?.files.map((file) => file.name)).toEqual(['stories260K.bin', 'tok512.bin']);
    // The same bytes as the shared test copy of the model.
    for (const file of stories?.files ?? []) {
      const bytes = readFileSync(sharedPath('models', 'stories260K', file.name));
      expect({ sha256: sha256(bytes), bytes: bytes.length }, file.name).toEqual({ sha256: file.sha256, bytes: file.bytes });
    }
    expect(stories?.files.every((file) => file.url.startsWith('https://huggingface.co/'))).toBe(true);
  });
});
