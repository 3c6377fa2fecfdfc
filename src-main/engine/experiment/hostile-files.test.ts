/**
 * Issue 11, items 2, 5 and 6: experiment files treated as untrusted. Special files are
 * refused before they are read, errors never quote a file's content, tensors are bounded
 * before they are read, and a save only ever creates or replaces a Tiller experiment.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { encodedSafetensors } from '../model/safetensors-write';
import { openExperiment, saveExperiment } from './file';
import { MAX_TENSOR_VALUES } from './tensors';
import { sampleExperiment } from './test/fixtures';

const posix = process.platform !== 'win32';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-hostile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

function savedWithSidecar(): { path: string; sidecar: string; document: Record<string, unknown> } {
  const path = join(dir, 's.tiller.json');
  const { sidecar } = saveExperiment(path, sampleExperiment(5));
  return { path, sidecar: sidecar as string, document: JSON.parse(readFileSync(path, 'utf8')) };
}

describe('special files', () => {
  it.runIf(posix)('refuses a device, a pipe and a folder as the experiment file', async () => {
    await expectEngineError(() => openExperiment('/dev/zero'), 'bad_experiment', '/dev/zero is a device, not a regular file');
    await expectEngineError(() => openExperiment(fifo(join(dir, 'pipe.tiller.json'))), 'bad_experiment', 'is a pipe (FIFO), not a regular file');
    mkdirSync(join(dir, 'folder.tiller.json'));
    await expectEngineError(() => openExperiment(join(dir, 'folder.tiller.json')), 'bad_experiment', 'is a folder, not a regular file');
  });

  it.runIf(posix)('refuses a sidecar that is a pipe, a folder or a link out of the folder', async () => {
    const { path, sidecar } = savedWithSidecar();
    rmSync(sidecar);
    fifo(sidecar);
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'is a pipe (FIFO), not a regular file');
    rmSync(sidecar);
    mkdirSync(sidecar);
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'is a folder, not a regular file');
    rmSync(sidecar, { recursive: true });
    const outside = mkdtempSync(join(tmpdir(), 'tiller-outside-'));
    try {
      writeFileSync(join(outside, 'x.safetensors'), encodedSafetensors([]));
      symlinkSync(join(outside, 'x.safetensors'), sidecar);
      await expectEngineError(() => openExperiment(path), 'bad_experiment', 'links outside');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('content is never quoted', () => {
  it('reports a file that is not JSON by line and column only', async () => {
    const path = join(dir, 'passwd.tiller.json');
    writeFileSync(path, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1\n');
    const error = await expectEngineError(() => openExperiment(path), 'bad_experiment', 'not valid JSON at line 1, column 1');
    expect(error.message).not.toMatch(/root|daemon|bash/);
  });

  it('reports a sidecar that is not safetensors without quoting its first bytes', async () => {
    const { path, sidecar } = savedWithSidecar();
    writeFileSync(sidecar, 'SECRET-TOKEN-0123456789 and more text after it');
    const error = await expectEngineError(() => openExperiment(path), 'bad_experiment', 'header length exceeds');
    expect(error.message).not.toMatch(/SECRET|[0-9]{10,}/);
  });
});

describe('bounded reading', () => {
  it('refuses a vector of 2,000,000 values in one named error', async () => {
    const path = join(dir, 'long.tiller.json');
    const experiment = sampleExperiment(3, 8) as unknown as { variants: { interventions: unknown[] }[] };
    experiment.variants[1].interventions = [{ op: 'add', hook: 'blocks.0.hook_resid_pre', vector: new Array(2_000_000).fill('x'), scale: 1, positions: 'all' }];
    writeFileSync(path, JSON.stringify(experiment));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', 'variants[1].interventions[0].vector: has more than 1048576 values');
  });

  it('refuses a sidecar tensor too large to read as numbers, before reading it', async () => {
    const { path, sidecar, document } = savedWithSidecar();
    // A sparse F16 file whose one tensor holds more values than an experiment may.
    const count = MAX_TENSOR_VALUES + 8;
    let json = JSON.stringify({ big: { dtype: 'F16', shape: [count], data_offsets: [0, count * 2] } });
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(sidecar, Buffer.concat([prefix, Buffer.from(json)]));
    truncateSync(sidecar, 8 + json.length + count * 2);
    const variants = document.variants as { interventions: Record<string, unknown>[] }[];
    variants[1].interventions[0].vector = { $tensor: 'big', shape: [count] };
    writeFileSync(path, JSON.stringify(document));
    await expectEngineError(() => openExperiment(path), 'bad_experiment', `at most ${MAX_TENSOR_VALUES} are read`);
  });
});

describe('saves write only Tiller experiments', () => {
  it('never overwrites a file that is not a Tiller experiment', async () => {
    const other = join(dir, 'settings.tiller.json');
    writeFileSync(other, '{"theme": "dark"}');
    await expectEngineError(() => saveExperiment(other, sampleExperiment()), 'bad_argument', 'not replacing', 'it is not a Tiller experiment');
    expect(readFileSync(other, 'utf8')).toBe('{"theme": "dark"}');
    await expectEngineError(() => saveExperiment(join(dir, 'package.json'), sampleExperiment()), 'bad_argument', 'must end in .tiller.json');
  });

  it.runIf(posix)('never saves through a link', async () => {
    const target = join(dir, 'target.tiller.json');
    saveExperiment(target, sampleExperiment(1));
    const before = readFileSync(target, 'utf8');
    symlinkSync(target, join(dir, 'link.tiller.json'));
    await expectEngineError(() => saveExperiment(join(dir, 'link.tiller.json'), sampleExperiment(2)), 'bad_argument', 'it is a link');
    expect(readFileSync(target, 'utf8')).toBe(before);
  });

  it('replaces an existing Tiller experiment', () => {
    const path = join(dir, 'again.tiller.json');
    saveExperiment(path, sampleExperiment(1));
    saveExperiment(path, sampleExperiment(2));
    expect(openExperiment(path).experiment).toEqual(sampleExperiment(2));
  });
});
