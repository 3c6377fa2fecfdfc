/**
 * One steering vector from a file (the app's "from a file" vector source): the set the
 * file holds (read.ts), narrowed to the entry the caller names. GGUF entries are keyed by
 * the hook they are added at (blocks.N.hook_resid_post), Neuronpedia's by its site.
 */
import { EngineError } from '../errors';
import { readVectorSet } from './read';

export interface VectorFileResult {
  vector: number[];
  /** The tensor or entry the vector came from; null for a bare JSON list. */
  key: string | null;
  /** Every key the file offers, so the UI can let the user pick. */
  keys: string[];
}

export function readVectorFile(path: string, key?: string): VectorFileResult {
  const set = readVectorSet(path);
  const keyed = set.vectors.filter((entry) => entry.key !== null);
  const keys = keyed.map((entry) => entry.key as string);
  if (keyed.length < set.vectors.length) {
    // A bare list: the file's only vector, with no name to choose it by.
    if (key !== undefined) throw badEntry(path, `is a bare list of numbers; it has no entry "${key}"`, keys);
    return { vector: Array.from(set.vectors[0].vector), key: null, keys: [] };
  }
  const chosen = pickKey(path, keys, key, set.warnings);
  const entry = keyed.find((candidate) => candidate.key === chosen) as (typeof keyed)[number];
  return { vector: Array.from(entry.vector), key: chosen, keys };
}

const badEntry = (path: string, problem: string, keys: string[]): EngineError => new EngineError('bad_argument', `${path}: ${problem}`, { keys });

/** The entry to read; when that takes a choice, the error's details.keys lists the entries for a UI to offer. */
function pickKey(path: string, keys: string[], key: string | undefined, skipped: string[]): string {
  if (key !== undefined) {
    if (!keys.includes(key)) throw badEntry(path, `has no entry "${key}" (entries: ${keys.join(', ')}${skipped.length ? `; ${skipped.join('; ')}` : ''})`, keys);
    return key;
  }
  if (keys.length === 0) throw badEntry(path, `holds no vectors${skipped.length ? ` (${skipped.join('; ')})` : ''}`, keys);
  if (keys.length > 1) throw badEntry(path, `holds ${keys.length} vectors (${keys.join(', ')}); choose one by key`, keys);
  return keys[0];
}
