/** Neuronpedia's vector JSON in each endpoint's field names, its layer mapping, and safetensors with provenance. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { readVectorSet } from './read';
import { asResidPost } from './vector-set';
import { formatOfPath, vectorFileBytes, writeVectorFile } from './write';

const dir = mkdtempSync(join(tmpdir(), 'tiller-neuronpedia-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const neuronpedia = (...parts: string[]) => sharedPath('interchange', 'neuronpedia', ...parts);
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const write = (name: string, value: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
};

describe('Neuronpedia import', () => {
  it('reads /api/vector/new bodies: the site is blocks.{layerNumber}.{hookType}', () => {
    const path = neuronpedia('example_api_vector_new_request.gemma-2-2b-it.dinosaurs.json');
    const set = readVectorSet(path);
    const raw = json(path);
    expect({ format: set.format, model: set.model, label: set.label, strength: set.strength }).toEqual({ format: 'neuronpedia', model: 'gemma-2-2b-it', label: 'dinosaurs', strength: 44 });
    expect(set.vectors.map((entry) => entry.hook)).toEqual(['blocks.20.hook_resid_pre']);
    expect(set.vectors[0].vector).toEqual(Float32Array.from(raw.vector as number[]));
    // Its resid_pre of layer 20 is block 19's output: a llama.cpp direction.19.
    expect(asResidPost('blocks.20.hook_resid_pre')).toBe('blocks.19.hook_resid_post');
  });

  it('reads a /v1/steer/completion request, folding each strength into its vector', () => {
    const path = neuronpedia('example_inference_v1_steer_completion_request.gpt2-small.jedi.json');
    const raw = json(path) as { vectors: { steeringVector: number[]; strength: number }[] };
    const set = readVectorSet(path);
    expect(set.model).toBe('gpt2-small');
    expect(set.vectors[0].hook).toBe('blocks.0.hook_resid_pre');
    expect(set.vectors[0].vector[3]).toBeCloseTo(raw.vectors[0].steeringVector[3] * raw.vectors[0].strength, 5);
    expect(() => asResidPost('blocks.0.hook_resid_pre')).toThrow('not the output of a block'); // the embedding
  });

  it('reads /api/vector/get answers (a Neuron: layer is a source id, hookName the site)', () => {
    const neuron = { modelId: 'gpt2-small', layer: '6-tiller', index: '0', hookName: 'blocks.6.hook_resid_post', vector: [1, 2, 3], vectorLabel: 'calm', vectorDefaultSteerStrength: 12 };
    const set = readVectorSet(write('get.json', neuron));
    expect(set.vectors.map(({ key, hook }) => [key, hook])).toEqual([['blocks.6.hook_resid_post', 'blocks.6.hook_resid_post']]);
    expect([set.label, set.strength]).toEqual(['calm', 12]);
    const siteless = readVectorSet(write('get-old.json', { ...neuron, hookName: null }));
    expect(siteless.vectors[0]).toMatchObject({ key: '6-tiller', hook: null });
    expect(siteless.warnings[0]).toContain('site of layer "6-tiller" is not known');
  });

  it("reads SAEDashboard vector sets with their hook config", () => {
    const set = readVectorSet(neuronpedia('saedashboard', 'test_vectors__logistic_direction_vector_set.json'));
    expect(set.model).toBe('gpt2');
    expect(set.vectors).toHaveLength(1);
    expect(set.vectors[0].hook).toBe('blocks.7.hook_resid_pre');
    expect(set.vectors[0].vector).toHaveLength(768);
  });

  it('refuses a Neuronpedia-shaped file with a bad field, naming it', async () => {
    await expectEngineError(() => readVectorSet(write('bad-hook.json', { layerNumber: 3, hookType: 'hook_mlp_out', vector: [1] })), 'bad_argument', '/api/vector/new', 'hookType');
    await expectEngineError(() => readVectorSet(write('bad-layer.json', { layerNumber: -1, hookType: 'hook_resid_pre', vector: [1] })), 'bad_argument', 'layerNumber');
    await expectEngineError(() => readVectorSet(write('bad-steer.json', { vectors: [{ steeringVector: [], strength: 1, hook: 'blocks.0.hook_resid_pre' }] })), 'bad_argument', '/v1/steer/completion', 'vectors.0.steeringVector');
    expect(readVectorSet(write('dash.json', { layerNumber: 2, hookType: 'resid-post', vector: [1] })).vectors[0].hook).toBe('blocks.2.hook_resid_post');
  });
});

describe('export', () => {
  const vector = Float32Array.from([0.25, -1.5, 3]);
  const options = { model: 'gpt2-small', label: 'Jedi', strength: 15 };

  it('writes /api/vector/new with exactly the fields Neuronpedia takes, and reads it back', () => {
    const example = json(neuronpedia('example_api_vector_new_request.gpt2-small.jedi.json'));
    const body = JSON.parse(vectorFileBytes('json', new Map([['blocks.0.hook_resid_pre', vector]]), options).toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(Object.keys(example).sort());
    expect(body).toMatchObject({ modelId: 'gpt2-small', layerNumber: 0, hookType: 'hook_resid_pre', vectorDefaultSteerStrength: 15, vectorLabel: 'Jedi' });
    const back = readVectorSet(write('new.json', body));
    expect(back.vectors[0]).toMatchObject({ hook: 'blocks.0.hook_resid_pre', vector });
  });

  it('writes a /v1/steer/completion vectors entry in its field names', () => {
    const example = json(neuronpedia('example_inference_v1_steer_completion_request.gpt2-small.jedi.json')) as { vectors: Record<string, unknown>[] };
    const body = JSON.parse(vectorFileBytes('json', new Map([['blocks.0.hook_resid_pre', vector]]), { ...options, neuronpediaEndpoint: 'steer-completion' }).toString('utf8')) as { vectors: Record<string, unknown>[] };
    expect(Object.keys(body.vectors[0]).sort()).toEqual(Object.keys(example.vectors[0]).sort());
  });

  it('refuses what Neuronpedia JSON cannot hold', async () => {
    await expectEngineError(() => vectorFileBytes('json', new Map([['blocks.1.hook_mlp_out', vector]]), options), 'bad_argument', 'blocks.1.hook_mlp_out is neither');
    const two = new Map([['blocks.1.hook_resid_post', vector], ['blocks.2.hook_resid_post', vector]]);
    await expectEngineError(() => vectorFileBytes('json', two, options), 'bad_argument', 'holds one vector', 'blocks.1.hook_resid_post, blocks.2.hook_resid_post');
    await expectEngineError(() => formatOfPath('vectors.npy'), 'bad_argument', '.gguf, .safetensors or .json');
  });

  it('round-trips safetensors keyed by hook name, with the provenance in its metadata', () => {
    const path = join(dir, 'set.safetensors');
    const vectors = new Map([['blocks.1.hook_resid_post', vector], ['hook_embed', Float32Array.from([1, 2, 3])]]);
    writeVectorFile(path, vectors, { ...options, provenance: { method: 'pca', layers: '1' } });
    const set = readVectorSet(path);
    expect(set.vectors.map(({ key, hook, vector: v }) => [key, hook, Array.from(v)])).toEqual([...vectors].map(([hook, v]) => [hook, hook, Array.from(v)]));
    expect(set.metadata).toEqual({ format: 'tiller-vectors', model: 'gpt2-small', label: 'Jedi', method: 'pca', layers: '1' });
    expect([set.model, set.label]).toEqual(['gpt2-small', 'Jedi']);
  });

  // Issue 11 item 6: a client holding the token could overwrite any *.json with an export.
  it('replaces an earlier vector file, never another JSON or safetensors file', async () => {
    const vectors = new Map([['blocks.0.hook_resid_post', Float32Array.of(1, 2, 3)]]);
    const again = join(dir, 'again.json');
    writeVectorFile(again, vectors, options);
    writeVectorFile(again, vectors, options);
    const settings = write('settings.json', { theme: 'dark' });
    await expectEngineError(() => writeVectorFile(settings, vectors, options), 'bad_argument', 'not replacing', 'it is not a vector file');
    expect(json(settings)).toEqual({ theme: 'dark' });
  });
});
