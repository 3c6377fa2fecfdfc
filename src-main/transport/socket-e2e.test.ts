/**
 * The whole path a browser UI takes: a real WebSocket, the dispatcher, the Workbench and
 * the real engine on the shared stories260K models. Downloads come from a local HTTP
 * server that serves the shared llama2.c files under the bundled catalog's checksums.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workbench, type CatalogModel, type EngineStatus, type ExperimentResults, type HookInfo, type ModelInfo, type TokenStreamEvent, type WorkbenchEvent } from '../engine/api';
import { bundledCatalog } from '../engine/workbench/catalog';
import { openSafetensors } from '../engine/model/safetensors';
import { sharedPath } from '../test/shared-paths';
import { TestClient } from '../test/ws-client';
import { startServer, type RunningServer } from './ws-server';

const HF_MODEL = sharedPath('models', 'stories260K-hf');
const dir = mkdtempSync(join(tmpdir(), 'tiller-socket-'));
let files: Server;
let workbench: Workbench;
let server: RunningServer;
let client: TestClient;

beforeAll(async () => {
  // The catalog's stories260K, fetched from here instead of Hugging Face.
  files = createServer((request, response) => {
    const name = basename(request.url ?? '');
    if (!['stories260K.bin', 'tok512.bin'].includes(name)) return void response.writeHead(404).end();
    response.end(readFileSync(sharedPath('models', 'stories260K', name)));
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  const local = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  const catalog = bundledCatalog().map((entry) => ({ ...entry, files: entry.files.map((file) => ({ ...file, url: `${local}/${file.name}` })) }));

  workbench = new Workbench({ appDataDir: join(dir, 'app-data'), engine: { cacheDir: join(dir, 'cache') }, transport: 'websocket', catalog });
  server = await startServer({ api: workbench, rendererDir: null });
  client = await TestClient.connect(`ws://127.0.0.1:${server.port}/api?token=${server.token}`);
});

afterAll(async () => {
  client.close();
  await server.close();
  await workbench.close();
  files.close();
  rmSync(dir, { recursive: true, force: true });
});

const statuses = (): EngineStatus[] => client.events.flatMap((event) => (event.type === 'status' ? [event.status] : []));
const tokensOf = (runId: string): TokenStreamEvent[] => client.events.filter((event): event is TokenStreamEvent => event.type === 'token' && event.runId === runId);
const finished = (runId: string): Promise<WorkbenchEvent> =>
  client.until(() => client.events.find((event) => (event.type === 'done' || event.type === 'error') && event.runId === runId));

async function doneResults(runId: string): Promise<ExperimentResults> {
  const end = await finished(runId);
  if (end.type === 'error') throw new Error(`run failed: ${end.error.code}: ${end.error.message}`);
  if (end.type !== 'done') throw new Error(`unexpected ${end.type}`);
  return end.results;
}

let embedding400: number[] = [];

describe('the workbench over a WebSocket, with the real engine', () => {
  it('loads a model and reports it, with status events', async () => {
    const before = await client.result<EngineStatus>('status');
    expect(before).toMatchObject({ state: 'idle', model: null, transport: 'websocket' });
    const info = await client.result<ModelInfo>('loadModel', { path: HF_MODEL });
    expect(info).toMatchObject({ path: HF_MODEL, format: 'huggingface', architecture: 'LlamaForCausalLM', nLayers: 5, dModel: 64, nHeads: 8, nKvHeads: 4, dHead: 8, dMlp: 172, dVocab: 512, nCtx: 512, provider: 'cpu', hasChatTemplate: false });
    // stories260K: "260K" parameters (64*512 embedding + 5 blocks + final norm; the classifier is tied).
    expect(info.nParams).toBe(512 * 64 + 5 * (2 * 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 172 * 64) + 64);
    expect(info.weightBytes).toBeGreaterThan(info.nParams * 4);
    expect(info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(statuses().map((status) => status.state)).toEqual(['loading', 'idle']);
    expect(statuses()[1].model).toEqual(info);
  });

  it('lists the hooks in execution order', async () => {
    const hooks = await client.result<HookInfo[]>('listHooks');
    expect(hooks).toHaveLength(1 + 5 * 20 + 4);
    expect(hooks[0]).toMatchObject({ name: 'hook_embed', layer: null, shape: ['pos', 64] });
    expect(hooks.find((hook) => hook.name === 'blocks.2.hook_resid_post')).toMatchObject({ layer: 2, site: 'hook_resid_post', indexUnit: 'dim', nIndex: 64 });
    expect(hooks[hooks.length - 1].name).toBe('logits');
  });

  it('tokenizes, and refuses the chat template the model does not have', async () => {
    expect(await client.result('tokenize', { text: 'Once upon a time' })).toEqual({ ids: [1, 403, 407, 261, 378], tokens: ['<s>', '▁Once', '▁upon', '▁a', '▁time'] });
    const chat = await client.call('tokenize', { text: 'Hi', chat: true });
    expect(chat).toMatchObject({ ok: false, error: { code: 'bad_argument' } });
  });

  it('gives the embedding row of a one-token text, and refuses longer texts', async () => {
    const { vector, tokenId } = await client.result<{ vector: number[]; tokenId: number }>('embeddingVector', { token: 'do' });
    expect(tokenId).toBe(400);
    const weights = openSafetensors(join(HF_MODEL, 'model.safetensors'));
    const row = Array.from(weights.read('model.embed_tokens.weight').subarray(400 * 64, 401 * 64));
    weights.close();
    expect(vector).toEqual(row);
    embedding400 = vector;
    const long = await client.call('embeddingVector', { token: 'Once upon' });
    expect(long).toMatchObject({ ok: false, error: { code: 'bad_argument' } });
    if (!long.ok) expect(long.error.message).toContain('encodes to 2 tokens');
  });

  it('generates a baseline and a steered variant side by side, streaming tokens, then results', async () => {
    const variants = [
      { id: 'baseline', name: 'Baseline' },
      { id: 'steered', name: 'do x2', interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: embedding400, scale: 2, positions: 'all' }] },
    ];
    const started = await client.result<{ runId: string; promptIds: number[] }>('generate', { prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 12 }, variants });
    expect(started.promptIds).toEqual([1, 403, 407, 261, 378]);
    const results = await doneResults(started.runId);
    expect(results.promptIds).toEqual(started.promptIds);
    expect(results.provider).toBe('cpu');
    expect(Date.parse(results.ranAt)).not.toBeNaN();
    expect(results.variants.map((variant) => variant.variantId)).toEqual(['baseline', 'steered']);

    const [baseline, steered] = results.variants;
    // Greedy stories260K from "Once upon a time" (../shared/models/README.md).
    expect(baseline.text).toMatch(/^, there was a little girl named Lily/);
    expect(baseline.stopReason).toBe('max_tokens');
    expect(baseline.tokens).toHaveLength(12);
    expect(steered.tokens).toHaveLength(12);
    expect(steered.text).not.toBe(baseline.text);

    // Each variant's stream is its result's tokens, in order; the results add each token's lens readings (internal consistency).
    const streamed = tokensOf(started.runId);
    for (const [variant, result] of results.variants.entries()) {
      const mine = streamed.filter((event) => event.variant === variant);
      expect(mine.map((event) => event.index)).toEqual(result.tokens.map((_, i) => i));
      expect(mine.map((event) => event.token)).toEqual(result.tokens.map((token) => Object.fromEntries(Object.entries(token).filter(([key]) => key !== 'lensTop1'))));
      expect(result.tokens.map((token) => token.lensTop1?.length)).toEqual(result.tokens.map(() => 5));
    }
    expect(baseline.tokens[0]).toMatchObject({ id: expect.any(Number), text: ',', logprob: expect.any(Number) });
    expect(baseline.tokens[0].top).toHaveLength(5);
    expect(statuses().slice(-2).map((status) => status.state)).toEqual(['generating', 'idle']);
  });

  it('refuses a variant that does not fit the model before starting, naming it', async () => {
    const response = await client.call('generate', {
      prompt: { text: 'Once' },
      settings: {},
      variants: [{ id: 'a', name: 'Baseline' }, { id: 'b', name: 'Too short', interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: [1, 2] }] }],
    });
    expect(response).toMatchObject({ ok: false, error: { code: 'bad_plan' } });
    if (!response.ok) expect(response.error.message).toContain('variant 1 (Too short): interventions.0.vector');
  });

  it('cancels a run: it ends with done, its variants stopped as cancelled', async () => {
    const { runId } = await client.result<{ runId: string }>('generate', { prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 400, stopAtEos: false }, variants: [{ id: 'baseline', name: 'Baseline' }] });
    await client.until(() => tokensOf(runId).length >= 2);
    expect(await client.result('cancel', { runId })).toBeNull();
    const results = await doneResults(runId);
    expect(results.variants[0].stopReason).toBe('cancelled');
    expect(results.variants[0].tokens.length).toBeLessThan(400);
    // Cancelling a run that is over is not an error.
    expect(await client.result('cancel', { runId })).toBeNull();
  });

  it('runs one generation at a time: a new run cancels the one in progress', async () => {
    const settings = { maxNewTokens: 400, stopAtEos: false };
    const first = await client.result<{ runId: string }>('generate', { prompt: { text: 'Once upon a time' }, settings, variants: [{ id: 'a', name: 'A' }] });
    await client.until(() => tokensOf(first.runId).length >= 1);
    const second = await client.result<{ runId: string }>('generate', { prompt: { text: 'One day' }, settings: { maxNewTokens: 5 }, variants: [{ id: 'b', name: 'B' }] });
    const firstResults = await doneResults(first.runId);
    expect(firstResults.variants[0].stopReason).toBe('cancelled');
    const secondResults = await doneResults(second.runId);
    expect(secondResults.variants[0].tokens).toHaveLength(5);
    // The first run had ended before the second streamed anything.
    const order = client.events.map((event) => ('runId' in event ? `${event.type}:${event.runId}` : ''));
    expect(order.indexOf(`done:${first.runId}`)).toBeLessThan(order.indexOf(`token:${second.runId}`));
  });

  it('starts runs that arrive together one after the other', async () => {
    const long = { prompt: { text: 'Once upon a time' }, settings: { maxNewTokens: 400, stopAtEos: false }, variants: [{ id: 'a', name: 'A' }] };
    const short = { prompt: { text: 'One day' }, settings: { maxNewTokens: 3 }, variants: [{ id: 'b', name: 'B' }] };
    const [first, second] = await Promise.all([client.result<{ runId: string }>('generate', long), client.result<{ runId: string }>('generate', short)]);
    expect((await doneResults(first.runId)).variants[0].stopReason).toBe('cancelled');
    expect((await doneResults(second.runId)).variants[0].tokens).toHaveLength(3);
    const order = client.events.map((event) => ('runId' in event ? `${event.type}:${event.runId}` : ''));
    expect(order.lastIndexOf(`token:${first.runId}`)).toBeLessThan(order.indexOf(`token:${second.runId}`));
  });

  it('downloads a catalog model with progress, then loads it', async () => {
    const before = await client.result<CatalogModel[]>('listModels');
    expect(before).toEqual([expect.objectContaining({ id: 'stories260K', installed: false, bytes: 1056540 + 6227 })]);
    const { downloadId } = await client.result<{ downloadId: string }>('downloadModel', { id: 'stories260K' });
    const end = await client.until(() => client.events.find((event) => event.type === 'download' && event.downloadId === downloadId && event.state !== 'running'));
    expect(end).toMatchObject({ type: 'download', modelId: 'stories260K', state: 'done', receivedBytes: 1056540 + 6227, totalBytes: 1056540 + 6227 });
    const after = await client.result<CatalogModel[]>('listModels');
    expect(after[0]).toMatchObject({ installed: true, path: before[0].path });
    const info = await client.result<ModelInfo>('loadModel', { path: after[0].path });
    expect(info).toMatchObject({ format: 'llama2c', nLayers: 5, dModel: 64 });

    const unknown = await client.call('downloadModel', { id: 'gpt-17' });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });
});
