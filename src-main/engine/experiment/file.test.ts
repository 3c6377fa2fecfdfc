import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { openSafetensors } from '../model/safetensors';
import { MAX_EXPERIMENT_JSON_BYTES, openExperiment, saveExperiment } from './file';
import { safetensorsBytes } from '../model/safetensors-write';
import { seededVector, sampleExperiment } from './test/fixtures';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-experiment-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const readJson = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8'));

describe('saveExperiment / openExperiment', () => {
  it('round-trips an experiment, large vectors and cached results included', () => {
    const experiment = sampleExperiment();
    const path = join(dir, 'sweep.tiller.json');
    const saved = saveExperiment(path, experiment);
    const opened = openExperiment(path);
    expect(opened.experiment).toEqual(experiment);
    expect(opened).toMatchObject({ migratedFrom: null, warnings: [] });
    expect(saved.sidecar).toMatch(/sweep\.tiller\.[0-9a-f]{12}\.safetensors$/);
    expect(saved.warnings).toEqual([]);
  });

  it('moves vectors longer than 64 values to a safetensors sidecar the engine reader opens', () => {
    const experiment = sampleExperiment(3, 96);
    const path = join(dir, 'sweep.tiller.json');
    const { sidecar } = saveExperiment(path, experiment);
    const json = readJson(path);
    expect(Object.keys(json).slice(0, 3)).toEqual(['format', 'version', 'sidecar']);
    expect(json.variants[1].interventions[0].vector).toEqual({ $tensor: 'variants.1.interventions.0.vector', shape: [96] });
    expect(json.variants[1].interventions[1].vector).toEqual([0.1, -0.25, 1e-7, 3]); // short: stays inline
    expect(json.variants[2].interventions[0].source.values).toEqual({ $tensor: 'variants.2.interventions.0.source.values', shape: [3, 96] });
    // Library vectors too: the long one in the sidecar, the short one inline.
    expect(json.vectors[0].entries[0].vector).toEqual({ $tensor: 'vectors.0.entries.0.vector', shape: [96] });
    expect(json.vectors[0].entries[1].vector).toEqual([0.5, -0.5]);

    const reader = openSafetensors(sidecar as string);
    try {
      expect(reader.names().sort()).toEqual([
        'variants.1.interventions.0.vector',
        'variants.2.interventions.0.source.values',
        'variants.2.interventions.1.u',
        'variants.2.interventions.1.v',
        'variants.2.interventions.2.u',
        'variants.2.interventions.2.v',
        'vectors.0.entries.0.vector',
      ]);
      expect(reader.info('variants.2.interventions.1.v')).toEqual({ dtype: 'F32', shape: [2, 192] });
      expect(Array.from(reader.read('variants.1.interventions.0.vector'))).toEqual(seededVector(3, 96));
    } finally {
      reader.close();
    }
    // Python's safetensors shows __metadata__; the engine reader skips it, so read the header here.
    const bytes = readFileSync(sidecar as string);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
    expect(header.__metadata__).toEqual({ format: 'tiller-experiment-tensors', version: '1' });
  });

  it('writes the same bytes for the same experiment, and replaces the sidecar when vectors change', () => {
    const path = join(dir, 'a.tiller.json');
    const first = saveExperiment(path, sampleExperiment(1));
    const text = readFileSync(path, 'utf8');
    saveExperiment(path, openExperiment(path).experiment);
    expect(readFileSync(path, 'utf8')).toBe(text);

    const second = saveExperiment(path, sampleExperiment(2));
    expect(second.sidecar).not.toBe(first.sidecar);
    expect(readdirSync(dir).sort()).toEqual([second.sidecar!.slice(dir.length + 1), 'a.tiller.json']);

    saveExperiment(path, sampleExperiment(2, 8)); // everything fits inline now
    expect(readdirSync(dir)).toEqual(['a.tiller.json']);
    expect(readJson(path)).not.toHaveProperty('sidecar');
  });

  it('leaves other experiments in the folder and their sidecars alone', () => {
    saveExperiment(join(dir, 'a.tiller.json'), sampleExperiment(1));
    saveExperiment(join(dir, 'a.b.tiller.json'), sampleExperiment(2));
    saveExperiment(join(dir, 'a.tiller.json'), sampleExperiment(3));
    expect(openExperiment(join(dir, 'a.b.tiller.json')).experiment).toEqual(sampleExperiment(2));
  });

  it('refuses to save an invalid experiment, naming the field', async () => {
    const experiment = sampleExperiment();
    experiment.settings.seed = -1;
    await expectEngineError(() => saveExperiment(join(dir, 'x.tiller.json'), experiment), 'bad_experiment', 'cannot save', 'settings.seed');
    await expectEngineError(() => saveExperiment(join(dir, 'x.tiller'), sampleExperiment()), 'bad_argument', 'must end in .tiller.json');
    await expectEngineError(() => saveExperiment(join(dir, 'x.json'), sampleExperiment()), 'bad_argument', 'must end in .tiller.json');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('openExperiment validation', () => {
  /** A valid document with every vector inline, edited by `edit`, written as JSON. */
  function writeEdited(edit: (document: Record<string, any>) => void): string {
    const path = join(dir, 'edited.tiller.json');
    saveExperiment(path, sampleExperiment(1, 8));
    const document = readJson(path);
    edit(document);
    writeFileSync(path, JSON.stringify(document, null, 2));
    return path;
  }

  it.each([
    ['a wrong type', (d: any) => (d.variants[1].interventions[0].scale = 'strong'), 'variants[1].interventions[0].scale: expected number, received string'],
    ['an unknown op', (d: any) => (d.variants[2].interventions[1].op = 'rotate'), 'variants[2].interventions[1].op: expected op to be one of add, set'],
    ['an out-of-range setting', (d: any) => (d.settings.seed = -3), 'settings.seed: '],
    ['a missing field', (d: any) => delete d.prompt, 'prompt: missing (expected object)'],
    ['an unknown field', (d: any) => (d.variants[0].colour = 'red'), 'variants[0].colour: unknown field'],
    ['no variants', (d: any) => (d.variants = []), 'variants: must hold at least the baseline'],
    ['a bad value inside a union', (d: any) => (d.variants[2].interventions[0].source.values[1][0] = 'x'), 'variants[2].interventions[0].source.values[1][0]: expected number'],
    ['a bad cached result', (d: any) => (d.results.variants[0].stopReason = 'bored'), 'results.variants[0].stopReason: '],
  ])('reports %s with its path', async (_name, edit, fragment) => {
    const path = writeEdited(edit);
    const error = await expectEngineError(() => openExperiment(path), 'bad_experiment', path, fragment);
    expect(error.details?.issues).toEqual(expect.arrayContaining([expect.objectContaining({ message: expect.any(String) })]));
  });

  it('reports malformed JSON with line and column', async () => {
    const path = join(dir, 'broken.tiller.json');
    writeFileSync(path, '{\n  "format": "tiller-experiment",\n  "version" 1\n}');
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'not valid JSON at line 3, column 13');
    writeFileSync(path, '{\n  "variants": [1, 2,]\n}');
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'line 2, column 21: Unexpected character');
    writeFileSync(path, '{\n  "name": "cut off');
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'line 2, column 19: Unterminated string');
    writeFileSync(path, Buffer.from([0x7b, 0xff, 0x7d]));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'UTF-8');
  });

  it('refuses files over the size limit before reading them', async () => {
    const path = join(dir, 'huge.tiller.json');
    writeFileSync(path, '');
    truncateSync(path, MAX_EXPERIMENT_JSON_BYTES + 1);
    await expectEngineError(() => openExperiment(path), 'bad_experiment', `more than the ${MAX_EXPERIMENT_JSON_BYTES} allowed`);
  });

  it('reports a missing file as not_found', async () => {
    await expectEngineError(() => openExperiment(join(dir, 'nope.tiller.json')), 'not_found', 'nope.tiller.json');
  });
});

describe('openExperiment sidecar checks', () => {
  function saveWithSidecar(): { path: string; sidecar: string } {
    const path = join(dir, 's.tiller.json');
    const { sidecar } = saveExperiment(path, sampleExperiment(5));
    return { path, sidecar: sidecar as string };
  }

  it('names the sidecar and the tensor when the sidecar is missing', async () => {
    const { path, sidecar } = saveWithSidecar();
    rmSync(sidecar);
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'is missing', sidecar.slice(dir.length + 1), 'variants.1.interventions.0.vector');
  });

  it('names a tensor the sidecar lacks, and warns that the sidecar changed', async () => {
    const { path, sidecar } = saveWithSidecar();
    const vector = { shape: [96], data: Float32Array.from(seededVector(9, 96)) };
    writeFileSync(sidecar, safetensorsBytes(new Map([['variants.1.interventions.0.vector', vector]]), {}));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'variants[2].interventions[0].source.values', 'tensor "variants.2.interventions.0.source.values" is missing');
  });

  it('names a tensor whose shape differs from the reference', async () => {
    const { path } = saveWithSidecar();
    const document = readJson(path);
    document.variants[2].interventions[1].u.shape = [2, 95];
    writeFileSync(path, JSON.stringify(document));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'variants[2].interventions[1].u', 'has shape [2, 96], the experiment expects [2, 95]');
  });

  it('opens vectors edited outside Tiller, with a warning, and validates them', async () => {
    const { path, sidecar } = saveWithSidecar();
    const reader = openSafetensors(sidecar);
    const tensors = new Map(reader.names().map((name) => [name, { shape: reader.info(name).shape, data: reader.read(name) }]));
    reader.close();
    tensors.get('variants.1.interventions.0.vector')!.data.fill(0.5);
    writeFileSync(sidecar, safetensorsBytes(tensors, {}));
    const { experiment, warnings } = openExperiment(path);
    expect(experiment.variants[1].interventions[0]).toMatchObject({ op: 'add', vector: new Array(96).fill(0.5) });
    expect(warnings).toEqual([expect.stringContaining('has changed since Tiller saved it')]);

    tensors.get('variants.1.interventions.0.vector')!.data[3] = NaN; // validated like any other value
    writeFileSync(sidecar, safetensorsBytes(tensors, {}));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'variants[1].interventions[0].vector[3]: expected number');
  });

  it('refuses sidecar names outside the folder, refs without a sidecar, and repeated refs', async () => {
    const { path } = saveWithSidecar();
    const document = readJson(path);
    writeFileSync(path, JSON.stringify({ ...document, sidecar: '../elsewhere.safetensors' }));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'sidecar: expected the file name');
    const { sidecar: _, ...withoutSidecar } = document;
    writeFileSync(path, JSON.stringify(withoutSidecar));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'names no tensors sidecar');
    document.variants[2].interventions[2].u = document.variants[1].interventions[0].vector;
    writeFileSync(path, JSON.stringify(document));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'variants[2].interventions[2].u', 'referenced more than once');
  });
});
