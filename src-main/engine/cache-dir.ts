/**
 * Where the engine caches what it derives from a checkpoint: the graph-layout weight file
 * (converted once per model and weight format) and the compiled plan graphs beside it.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { weightOptionsLabel, type WeightOptions } from './model/weight-format';

/** Bumped whenever the weight layout or graph changes, so stale caches are not reused. */
const GRAPH_VERSION = 'decoder-1';

/** TILLER_CACHE_DIR, else the platform's per-user cache folder. */
export function defaultCacheDir(): string {
  if (process.env.TILLER_CACHE_DIR) return process.env.TILLER_CACHE_DIR;
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return join(process.env.LOCALAPPDATA, 'Tiller', 'cache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'Tiller');
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tiller');
}

/** One folder per checkpoint (its sampled fingerprint), graph version and weight format. */
export function modelCacheDir(cacheDir: string, fingerprint: string, weights: WeightOptions): string {
  return join(cacheDir, 'models', `${fingerprint.slice(0, 24)}-${GRAPH_VERSION}-${weightOptionsLabel(weights)}`);
}

/** What a cached weight file must have been written for (graph/weights-file.ts checks it). */
export function weightFileKey(fingerprint: string): string {
  return `${fingerprint}:${GRAPH_VERSION}`;
}
