/** Remembered window bounds: atomic JSON, defaults for bad files, never off-screen. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_WINDOW_STATE, WindowStateStore, fitToDisplays } from './window-bounds';

const dir = mkdtempSync(join(tmpdir(), 'tiller-window-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];

describe('window state', () => {
  it('saves and loads the bounds, writing through a temp file', () => {
    const file = join(dir, 'nested', 'window-state.json');
    const store = new WindowStateStore(file);
    store.save({ x: 100, y: 50, width: 1000, height: 700, maximized: true });
    expect(store.load(screen)).toEqual({ x: 100, y: 50, width: 1000, height: 700, maximized: true });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ x: 100, y: 50, width: 1000, height: 700, maximized: true });
    expect(readdirSync(join(dir, 'nested'))).toEqual(['window-state.json']);
  });

  it('falls back to the default for a missing, corrupt or absurd file', () => {
    expect(new WindowStateStore(join(dir, 'missing.json')).load(screen)).toEqual(DEFAULT_WINDOW_STATE);
    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"width": 10');
    expect(new WindowStateStore(corrupt).load(screen)).toEqual(DEFAULT_WINDOW_STATE);
    const tiny = join(dir, 'tiny.json');
    writeFileSync(tiny, JSON.stringify({ width: 5, height: 5, maximized: false }));
    expect(new WindowStateStore(tiny).load(screen)).toEqual(DEFAULT_WINDOW_STATE);
  });

  it('drops a position that is no longer on any display, keeping the size', () => {
    const state = { x: 3000, y: 200, width: 900, height: 600, maximized: false };
    expect(fitToDisplays(state, screen)).toEqual({ width: 900, height: 600, maximized: false });
    // Mostly off to the left, but enough of the title bar is visible to grab.
    expect(fitToDisplays({ ...state, x: -800 }, screen)).toEqual({ ...state, x: -800 });
    // On a second display that is still attached.
    expect(fitToDisplays(state, [...screen, { x: 1920, y: 0, width: 2560, height: 1440 }])).toEqual(state);
    expect(fitToDisplays({ ...state, y: -500 }, screen)).toEqual({ width: 900, height: 600, maximized: false });
  });
});
