/**
 * Steering vectors from files other tools write (DESIGN.md, "Interchange"):
 *
 *   safetensors   one tensor per hook name (Tiller's own export, repeng / EasySteer style)
 *   JSON          a plain list of numbers; Neuronpedia's {"vector": [...], "layerNumber",
 *                 "hookType"}; or an object of named lists ({"NAME": [...], ...})
 *
 * Files are untrusted: sizes are bounded before anything is read whole, and every
 * problem is an EngineError naming the file.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { EngineError } from '../errors';
import { openSafetensors } from '../model/safetensors';

/** JSON vector files are read whole; real ones are a few hundred kB. */
export const MAX_JSON_VECTOR_BYTES = 64 * 1024 * 1024;
/** Far above any model width (d_model, d_mlp); a bigger tensor is not a vector. */
export const MAX_VECTOR_VALUES = 1 << 22;

export interface VectorFileResult {
  vector: number[];
  /** The tensor or entry the vector came from; null for a bare JSON list. */
  key: string | null;
  /** Every key the file offers, so the UI can let the user pick. */
  keys: string[];
}

const badFile = (path: string, problem: string, details?: Record<string, unknown>): EngineError => new EngineError('bad_argument', `${path}: ${problem}`, details);

export function readVectorFile(path: string, key?: string): VectorFileResult {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw badFile(path, 'is not a file');
    size = stat.size;
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError('not_found', `cannot read ${path}: ${(error as Error).message}`);
  }
  return sniffFormat(path) === 'safetensors' ? readSafetensorsVector(path, key) : readJsonVector(path, size, key);
}

/** By extension, else by content: safetensors starts with a u64 header length and then '{'. */
function sniffFormat(path: string): 'json' | 'safetensors' {
  const extension = extname(path).toLowerCase();
  if (extension === '.json') return 'json';
  if (extension === '.safetensors') return 'safetensors';
  const head = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const text = head.subarray(0, read).toString('latin1').trimStart();
  if (text.startsWith('[') || text.startsWith('{')) return 'json';
  if (read >= 9 && head[8] === 0x7b /* '{' */) return 'safetensors';
  throw badFile(path, 'is neither a JSON nor a safetensors vector file');
}

/** The entry to read; when that takes a choice, the error's details.keys lists the entries for a UI to offer. */
function pickKey(path: string, keys: string[], key: string | undefined): string {
  if (key !== undefined) {
    if (!keys.includes(key)) throw badFile(path, `has no entry "${key}" (entries: ${keys.join(', ')})`, { keys });
    return key;
  }
  if (keys.length === 0) throw badFile(path, 'holds no vectors');
  if (keys.length > 1) throw badFile(path, `holds ${keys.length} vectors (${keys.join(', ')}); choose one by key`, { keys });
  return keys[0];
}

function readSafetensorsVector(path: string, key: string | undefined): VectorFileResult {
  const reader = openSafetensors(path);
  try {
    const keys = reader.names();
    const chosen = pickKey(path, keys, key);
    const { shape } = reader.info(chosen);
    // A vector is 1-D; [1, n] (one row, as some exporters write it) is accepted too.
    const isVector = shape.length === 1 || (shape.length === 2 && shape[0] === 1);
    if (!isVector) throw badFile(path, `tensor "${chosen}" has shape [${shape.join(', ')}]; a vector is 1-D`);
    const width = shape[shape.length - 1];
    if (width === 0 || width > MAX_VECTOR_VALUES) throw badFile(path, `tensor "${chosen}" has ${width} values`);
    return { vector: Array.from(reader.read(chosen)), key: chosen, keys };
  } finally {
    reader.close();
  }
}

function readJsonVector(path: string, size: number, key: string | undefined): VectorFileResult {
  if (size > MAX_JSON_VECTOR_BYTES) throw badFile(path, `is ${size} bytes; JSON vector files are limited to ${MAX_JSON_VECTOR_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw badFile(path, `is not valid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) {
    if (key !== undefined) throw badFile(path, `is a bare list of numbers; it has no entry "${key}"`);
    return { vector: numbers(path, 'the list', value), key: null, keys: [] };
  }
  if (typeof value !== 'object' || value === null) throw badFile(path, 'expected a list of numbers or an object holding one');
  const record = value as Record<string, unknown>;
  if (Array.isArray(record.vector)) {
    // Neuronpedia names the site by layer and hook type; the key is then the hook name.
    const site = typeof record.hookType === 'string' && Number.isInteger(record.layerNumber) ? `blocks.${String(record.layerNumber)}.${record.hookType}` : 'vector';
    pickKey(path, [site], key);
    return { vector: numbers(path, '"vector"', record.vector), key: site, keys: [site] };
  }
  const keys = Object.keys(record).filter((name) => Array.isArray(record[name]));
  const chosen = pickKey(path, keys, key);
  return { vector: numbers(path, `"${chosen}"`, record[chosen] as unknown[]), key: chosen, keys };
}

function numbers(path: string, what: string, list: unknown[]): number[] {
  if (list.length === 0) throw badFile(path, `${what} is empty`);
  if (list.length > MAX_VECTOR_VALUES) throw badFile(path, `${what} has ${list.length} values`);
  const bad = list.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (bad >= 0) throw badFile(path, `${what}[${bad}] is ${JSON.stringify(list[bad])}, not a finite number`);
  return list as number[];
}
