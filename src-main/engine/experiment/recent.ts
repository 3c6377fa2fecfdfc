/**
 * Recently opened or saved experiments, most recent first, kept in the app-data folder
 * as `recent-experiments.json`. The list is a convenience: an unreadable list is treated
 * as empty (and replaced on the next add) rather than stopping the app from starting.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { writeAtomically } from '../write-atomically';

export const MAX_RECENT = 10;
const FILE_NAME = 'recent-experiments.json';
/** Ten entries fit in a few KiB; anything far bigger is not ours. */
const MAX_FILE_BYTES = 1024 * 1024;

const entrySchema = z.object({ path: z.string().min(1), name: z.string(), openedAt: z.string() });
const fileSchema = z.object({ format: z.literal('tiller-recent'), version: z.literal(1), entries: z.array(entrySchema) });

/** Same shape as workbench/protocol.ts's RecentExperiment. */
export type RecentEntry = z.infer<typeof entrySchema>;

export class RecentExperiments {
  private readonly file: string;

  constructor(appDataDir: string) {
    this.file = join(appDataDir, FILE_NAME);
  }

  /** Entries whose files still exist, most recent first. */
  list(): RecentEntry[] {
    return this.read().filter((entry) => existsSync(entry.path));
  }

  /** Put `path` at the top (moving it if listed already), keep MAX_RECENT; returns the new list. */
  add(path: string, name: string, openedAt: Date = new Date()): RecentEntry[] {
    const absolute = resolve(path);
    const entry: RecentEntry = { path: absolute, name, openedAt: openedAt.toISOString() };
    const entries = [entry, ...this.list().filter((other) => resolve(other.path) !== absolute)].slice(0, MAX_RECENT);
    this.write(entries);
    return entries;
  }

  /** Drop `path` from the list (e.g. it failed to open); returns the new list. */
  remove(path: string): RecentEntry[] {
    const absolute = resolve(path);
    const entries = this.list().filter((entry) => resolve(entry.path) !== absolute);
    this.write(entries);
    return entries;
  }

  private read(): RecentEntry[] {
    try {
      if (statSync(this.file).size > MAX_FILE_BYTES) return [];
      const parsed = fileSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      return parsed.success ? dedupe(parsed.data.entries).slice(0, MAX_RECENT) : [];
    } catch {
      return []; // missing or unreadable: see the file comment
    }
  }

  private write(entries: RecentEntry[]): void {
    const text = JSON.stringify({ format: 'tiller-recent', version: 1, entries }, null, 2);
    writeAtomically(this.file, Buffer.from(`${text}\n`, 'utf8'));
  }
}

/** First occurrence of each path wins (the list is most recent first). */
function dedupe(entries: RecentEntry[]): RecentEntry[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const key = resolve(entry.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
