import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeStaleTemps, writeAtomically } from '../write-atomically';
import { openExperiment, saveExperiment } from './file';
import { sampleExperiment } from './test/fixtures';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
const CHILD = join(__dirname, 'test', 'save-then-hang.ts');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Run save-then-hang.ts until it reports that it is hanging at `point`, then SIGKILL it. */
async function killSaveAt(path: string, seed: number, point: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, String(seed), point], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((done) => child.on('exit', (code, signal) => done(signal ?? code)));
  await new Promise<void>((hanging, failed) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('hanging')) hanging();
    });
    void exited.then((status) => failed(new Error(`child exited (${status}) before hanging at ${point}: ${stdout}${stderr}`)));
  });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

describe('a killed save', () => {
  // Each point is a moment a crash could hit; the sequence is: sidecar temp written,
  // synced, renamed; JSON temp written, synced, renamed; old sidecar removed.
  it.each([
    ['halfway through writing the new sidecar', 'writeFileSync:1:half'],
    ['before the new sidecar is renamed into place', 'renameSync:1'],
    ['halfway through writing the new JSON', 'writeFileSync:2:half'],
    ['between the sidecar rename and the JSON rename', 'renameSync:2'],
  ])('%s leaves the previous file intact', async (_moment, point) => {
    const path = join(dir, 'run.tiller.json');
    const previous = sampleExperiment(1, 256);
    saveExperiment(path, previous);
    const before = readFileSync(path);

    await killSaveAt(path, 2, point);

    expect(readFileSync(path)).toEqual(before);
    expect(openExperiment(path).experiment).toEqual(previous);
    // The half-done save left temp files; none looks like an experiment document.
    const leftovers = readdirSync(dir).filter((name) => name.endsWith('.tmp'));
    expect(leftovers.length).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tiller.json'))).toEqual(['run.tiller.json']);

    // The next save succeeds and clears the dead writer's leftovers and old sidecars.
    const next = saveExperiment(path, sampleExperiment(3, 256));
    expect(readdirSync(dir).sort()).toEqual([next.sidecar!.slice(dir.length + 1), 'run.tiller.json']);
    expect(openExperiment(path).experiment).toEqual(sampleExperiment(3, 256));
  });

  it('after the JSON rename leaves the new file complete', async () => {
    const path = join(dir, 'run.tiller.json');
    saveExperiment(path, sampleExperiment(1, 256));
    await killSaveAt(path, 2, 'rmSync:1'); // removing the previous sidecar
    expect(openExperiment(path).experiment).toEqual(sampleExperiment(2, 256));
  });
});

describe('writeAtomically', () => {
  it('replaces the file and leaves no temp file', () => {
    const path = join(dir, 'sub', 'file.bin');
    writeAtomically(path, Buffer.from('one'));
    writeAtomically(path, Buffer.from('two'));
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(join(dir, 'sub'))).toEqual(['file.bin']);
  });

  it('leaves the target and no temp file behind when the rename fails', () => {
    const path = join(dir, 'occupied');
    mkdirSync(path);
    writeFileSync(join(path, 'keep'), 'x'); // a non-empty directory cannot be renamed over
    expect(() => writeAtomically(path, Buffer.from('data'))).toThrow();
    expect(readdirSync(dir)).toEqual(['occupied']);
    expect(readdirSync(path)).toEqual(['keep']);
  });

  it('removeStaleTemps removes temps of dead writers only', () => {
    const dead = join(dir, 'doc.json.999999999-0123abcd.tmp'); // no such pid
    const live = join(dir, `doc.json.${process.pid}-0123abcd.tmp`);
    const other = join(dir, 'other.json.999999999-0123abcd.tmp');
    for (const file of [dead, live, other]) writeFileSync(file, '');
    removeStaleTemps(dir, (target) => target === 'doc.json');
    expect(readdirSync(dir).sort()).toEqual([`doc.json.${process.pid}-0123abcd.tmp`, 'other.json.999999999-0123abcd.tmp']);
  });
});
