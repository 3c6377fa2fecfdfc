/**
 * The main window's size and place, remembered between runs in <userData>/window-state.json.
 * Written atomically (temp file, then rename) so a crash mid-write leaves the old state;
 * an unreadable file or a position on a display that is gone falls back to a centred
 * default instead of opening the window off-screen.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

export interface Rectangle {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowState {
  /** Absent: let the window manager centre the window. */
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1280, height: 820, maximized: false };
export const MIN_WIDTH = 640;
export const MIN_HEIGHT = 480;
/** At least this much of the title bar must lie on some display for a saved position to be reused. */
const VISIBLE_MARGIN = 64;

const stateSchema = z.object({
  x: z.int().optional(),
  y: z.int().optional(),
  width: z.int().min(MIN_WIDTH).max(100_000),
  height: z.int().min(MIN_HEIGHT).max(100_000),
  maximized: z.boolean(),
});

function overlap(a: Rectangle, b: Rectangle): { width: number; height: number } {
  return {
    width: Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x),
    height: Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y),
  };
}

/** The saved state made safe for the current displays (their work areas). */
export function fitToDisplays(state: WindowState, workAreas: Rectangle[]): WindowState {
  if (state.x === undefined || state.y === undefined) return state;
  const titleBar: Rectangle = { x: state.x, y: state.y, width: state.width, height: VISIBLE_MARGIN };
  const visible = workAreas.some((area) => {
    const o = overlap(titleBar, area);
    return o.width >= VISIBLE_MARGIN && o.height > 0;
  });
  if (visible) return state;
  const { x: _x, y: _y, ...centred } = state;
  return centred;
}

export class WindowStateStore {
  constructor(private readonly file: string) {}

  load(workAreas: Rectangle[]): WindowState {
    try {
      const parsed = stateSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      if (parsed.success) return fitToDisplays(parsed.data, workAreas);
    } catch {
      // missing or unreadable: the default below
    }
    return { ...DEFAULT_WINDOW_STATE };
  }

  save(state: WindowState): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state)}\n`);
    renameSync(tmp, this.file);
  }
}
