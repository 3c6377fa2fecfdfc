import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { openExperiment, saveExperiment } from './file';
import { experimentVersion, migrateExperiment } from './migrate';
import { seededVector } from './test/fixtures';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A document as the version-0 previews wrote it (see migrate.ts). */
function version0Document(): Record<string, any> {
  return {
    format: 'tiller-experiment',
    version: 0,
    name: 'Old sweep',
    savedAt: '2024-11-05T10:00:00.000Z',
    model: { path: '/models/stories260K.bin', format: 'llama2c', architecture: 'llama2c', fingerprint: 'abc123' },
    prompt: 'Once upon a time',
    settings: { max_tokens: 40, temperature: 0, seed: 7 },
    variants: [
      { id: 'base', name: 'Baseline', steering: null },
      { id: 'happy', name: 'Happy', steering: { hook: 'blocks.2.hook_resid_pre', vector: seededVector(4, 100), scale: 3 } },
    ],
  };
}

function writeDocument(name: string, document: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(document, null, 2));
  return path;
}

describe('experiment migration', () => {
  it('opens a version-0 file as version 1', () => {
    const { experiment, migratedFrom, warnings } = openExperiment(writeDocument('old.tiller.json', version0Document()));
    expect(migratedFrom).toBe(0);
    expect(warnings).toEqual([expect.stringContaining('format version 0; saving it writes version 1')]);
    expect(experiment).toMatchObject({
      format: 'tiller-experiment',
      version: 1,
      name: 'Old sweep',
      createdAt: '2024-11-05T10:00:00.000Z',
      updatedAt: '2024-11-05T10:00:00.000Z',
      model: { path: '/models/stories260K.bin', format: 'llama2c' },
      prompt: { text: 'Once upon a time', chat: false },
      settings: { maxNewTokens: 40, temperature: 0, seed: 7, topK: 0, stopAtEos: true },
      results: null,
    });
    expect(experiment.variants[0]).toEqual({ id: 'base', name: 'Baseline', interventions: [], origins: {}, decoding: { strategy: 'greedy' } });
    expect(experiment.variants[1].interventions).toEqual([
      { op: 'add', hook: 'blocks.2.hook_resid_pre', vector: seededVector(4, 100), scale: 3, positions: 'all' },
    ]);
  });

  it('saves a migrated file as version 1, which then opens without migrating', () => {
    const path = writeDocument('old.tiller.json', version0Document());
    saveExperiment(path, openExperiment(path).experiment);
    const reopened = openExperiment(path);
    expect(reopened.migratedFrom).toBeNull();
    expect(reopened.experiment.variants[1].interventions[0]).toMatchObject({ vector: seededVector(4, 100) });
  });

  it('opens a version-1 file written before the internal-consistency setting with the lens pass on, and keeps the setting it is saved with', () => {
    const path = writeDocument('old.tiller.json', version0Document());
    saveExperiment(path, openExperiment(path).experiment);
    const written = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    delete written.consistency;
    const before = openExperiment(writeDocument('before.tiller.json', written));
    expect(before.migratedFrom).toBeNull();
    expect(before.experiment.consistency).toEqual({ enabled: true, fromLayer: 0, answers: [] });
    saveExperiment(path, { ...before.experiment, consistency: { enabled: false, fromLayer: 'middle', answers: [' True', ' False'] } });
    expect(openExperiment(path).experiment.consistency).toEqual({ enabled: false, fromLayer: 'middle', answers: [' True', ' False'] });
  });

  it('names version-0 fields when a version-0 file is invalid', async () => {
    const document = version0Document();
    document.variants[1].steering.scale = 'lots';
    await expectEngineError(() => openExperiment(writeDocument('bad.tiller.json', document)), 'bad_experiment', 'format version 0', 'variants[1].steering.scale: expected number');
  });

  it('names version-1 fields when a migrated file fails version-1 validation', async () => {
    const document = version0Document();
    document.settings.max_tokens = 0;
    await expectEngineError(() => openExperiment(writeDocument('bad.tiller.json', document)), 'bad_experiment', 'after migrating from format version 0', 'settings.maxNewTokens');
  });

  it('refuses a file made by a newer Tiller', async () => {
    const path = writeDocument('new.tiller.json', { format: 'tiller-experiment', version: 2, hologram: true });
    const error = await expectEngineError(() => openExperiment(path), 'bad_experiment', 'made by a newer Tiller', 'version 2', 'up to 1');
    expect(error.details).toEqual({ version: 2, supported: 1 });
  });

  it('refuses documents that are not Tiller experiments', async () => {
    await expectEngineError(() => experimentVersion({ format: 'tiller-plan', version: 1 }, 'x.json'), 'bad_experiment', 'not a Tiller experiment: it has another "format" (a string)');
    // Issue 11 item 6: the file's own content is never quoted back.
    expect(() => experimentVersion({ format: 'root:x:0:0', version: 'secret' }, 'x.json')).toThrow(expect.objectContaining({ message: expect.not.stringMatching(/root|secret/) }));
    expect(() => experimentVersion({ format: 'tiller-experiment', version: 'secret' }, 'x.json')).toThrow(expect.objectContaining({ message: expect.not.stringMatching(/secret/) }));
    await expectEngineError(() => experimentVersion({ version: 1 }, 'x.json'), 'bad_experiment', 'has no "format"');
    await expectEngineError(() => experimentVersion([1, 2], 'x.json'), 'bad_experiment', 'expected a JSON object');
    await expectEngineError(() => experimentVersion({ format: 'tiller-experiment', version: '1' }, 'x.json'), 'bad_experiment', 'version: expected a whole number');
    await expectEngineError(() => experimentVersion({ format: 'tiller-experiment', version: -1 }, 'x.json'), 'bad_experiment', 'version');
  });

  it('leaves a current document as it is', () => {
    const document = { format: 'tiller-experiment', version: 1, anything: 'here' };
    expect(migrateExperiment(document, 1, 'x.json')).toBe(document);
  });
});
