import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RECENT, RecentExperiments } from './recent';

let dir: string;
let appData: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-recent-'));
  appData = join(dir, 'app-data'); // created by the first write
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An existing experiment file (the list only shows files that exist). */
function file(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '{}');
  return path;
}

const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 12, minute));

describe('RecentExperiments', () => {
  it('is empty at first', () => {
    expect(new RecentExperiments(appData).list()).toEqual([]);
  });

  it('lists the most recent first and moves a reopened file to the top', () => {
    const recent = new RecentExperiments(appData);
    const [a, b, c] = [file('a.tiller.json'), file('b.tiller.json'), file('c.tiller.json')];
    recent.add(a, 'A', at(1));
    recent.add(b, 'B', at(2));
    recent.add(c, 'C', at(3));
    recent.add(join(dir, '.', 'a.tiller.json'), 'A renamed', at(4)); // same file, spelt differently
    expect(new RecentExperiments(appData).list()).toEqual([
      { path: a, name: 'A renamed', openedAt: at(4).toISOString() },
      { path: c, name: 'C', openedAt: at(3).toISOString() },
      { path: b, name: 'B', openedAt: at(2).toISOString() },
    ]);
  });

  it(`keeps at most ${MAX_RECENT}`, () => {
    const recent = new RecentExperiments(appData);
    for (let i = 0; i < MAX_RECENT + 3; i++) recent.add(file(`e${i}.tiller.json`), `E${i}`, at(i));
    const names = recent.list().map((entry) => entry.name);
    expect(names).toHaveLength(MAX_RECENT);
    expect(names[0]).toBe(`E${MAX_RECENT + 2}`);
    expect(names).not.toContain('E2');
  });

  it('drops files that no longer exist, and removes on request', () => {
    const recent = new RecentExperiments(appData);
    const [a, b, c] = [file('a.tiller.json'), file('b.tiller.json'), file('c.tiller.json')];
    for (const path of [a, b, c]) recent.add(path, path);
    rmSync(b);
    expect(recent.list().map((entry) => entry.path)).toEqual([c, a]);
    expect(recent.remove(c).map((entry) => entry.path)).toEqual([a]);
  });

  it('treats an unreadable list as empty and replaces it on the next add', () => {
    const recent = new RecentExperiments(appData);
    recent.add(file('a.tiller.json'), 'A');
    const listFile = join(appData, 'recent-experiments.json');
    writeFileSync(listFile, '{"format": "tiller-recent", "version": 1, "entries": [{"path": 3}]}');
    expect(recent.list()).toEqual([]);
    writeFileSync(listFile, 'not json');
    expect(recent.list()).toEqual([]);
    recent.add(file('b.tiller.json'), 'B');
    expect(JSON.parse(readFileSync(listFile, 'utf8')).entries).toHaveLength(1);
  });
});
