/**
 * Read any steering-vector file into a VectorSet, by what its bytes are (the extension
 * is only a hint, and real files lie: interchange/gguf/edge_cases). Files are untrusted:
 * sizes are bounded before anything is read whole, and every problem is an EngineError
 * naming the file and saying what it really is.
 *
 *   GGUF          llama.cpp control vector (control-vector.ts)
 *   safetensors   one tensor per hook name (Tiller, repeng, EasySteer)
 *   JSON          Neuronpedia (neuronpedia.ts), a bare list of numbers, or {"NAME": [...], ...}
 */
import { closeSync, readSync, statSync } from 'node:fs';
import { parseJson } from '../../../src-shared/json-syntax';
import { extname } from 'node:path';
import { EngineError } from '../errors';
import { parseHookName } from '../hooks/names';
import { openRegularFile, readRegularFile } from '../model/file-io';
import { openSafetensors } from '../model/safetensors';
import { readControlVector } from './control-vector';
import { GGUF_MAGIC } from './gguf';
import { readNeuronpedia } from './neuronpedia';
import { emptySet, type VectorSet } from './vector-set';

/** JSON and GGUF vector files are read whole; real ones are a few MB at most. */
export const MAX_VECTOR_FILE_BYTES = 64 * 1024 * 1024;
/** Far above any model width (d_model, d_mlp); a bigger tensor is not a vector. */
export const MAX_VECTOR_VALUES = 1 << 22;

export type FileKind = 'gguf' | 'safetensors' | 'json' | 'npy' | 'lfs-pointer' | 'unknown';

const badFile = (path: string, problem: string, details?: Record<string, unknown>): EngineError => new EngineError('bad_argument', `${path}: ${problem}`, details);

/** The file's size, or the error saying why it cannot be read. */
function fileSize(path: string): number {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw badFile(path, 'is not a file');
    return stat.size;
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError('not_found', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** What the first bytes say the file is. */
export function sniffFile(path: string): { kind: FileKind; head: Buffer } {
  fileSize(path);
  const buffer = Buffer.alloc(256);
  const { fd } = openRegularFile(path, 'vector file', 'bad_argument');
  let read: number;
  try {
    read = readSync(fd, buffer, 0, buffer.length, 0);
  } finally {
    closeSync(fd);
  }
  const head = buffer.subarray(0, read);
  const text = head.toString('latin1');
  if (text.startsWith(GGUF_MAGIC)) return { kind: 'gguf', head };
  if (text.startsWith('version https://git-lfs')) return { kind: 'lfs-pointer', head };
  if (text.startsWith('\x93NUMPY')) return { kind: 'npy', head };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return { kind: 'json', head };
  if (read >= 9 && head[8] === 0x7b /* '{' */) return { kind: 'safetensors', head };
  // Content decides; the extension only names JSON that holds no list or object, so it is refused as JSON.
  return { kind: extname(path).toLowerCase() === '.json' ? 'json' : 'unknown', head };
}

/** "what it really is" for files no vector reader takes. */
function describeUnreadable(kind: FileKind, head: Buffer): string {
  const text = head.toString('latin1');
  if (kind === 'lfs-pointer') {
    const size = /\nsize (\d+)/.exec(text)?.[1];
    return `is a Git LFS pointer${size ? ` to a ${size}-byte file` : ''}, not the file itself; fetch the real file (git lfs pull) and open that`;
  }
  if (kind === 'npy') {
    const header = /\{[^}]*\}/.exec(text)?.[0] ?? '';
    const dtype = /'descr':\s*'([^']+)'/.exec(header)?.[1];
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
    return `is a NumPy .npy array${dtype ? ` (dtype ${dtype}, shape (${shape ?? '?'}))` : ''}, not a vector file Tiller reads; save it as safetensors keyed by hook name, or as a JSON list`;
  }
  return 'is not a GGUF, safetensors or JSON vector file';
}

/** Every vector in the file, with what the file says about them. */
export function readVectorSet(path: string): VectorSet {
  const size = fileSize(path);
  const { kind, head } = sniffFile(path);
  switch (kind) {
    case 'safetensors':
      return readSafetensorsSet(path);
    case 'gguf':
      return readControlVector(readBounded(path, size), path);
    case 'json':
      return readJsonSet(path, readBounded(path, size));
    default:
      throw badFile(path, describeUnreadable(kind, head));
  }
}

/** A file that must be a llama.cpp control vector; anything else is named for what it is. */
export function readControlVectorFile(path: string): VectorSet {
  const size = fileSize(path);
  const { kind, head } = sniffFile(path);
  if (kind === 'gguf') return readControlVector(readBounded(path, size), path);
  if (kind === 'safetensors') return fail(path, 'is a safetensors file under another name, not a GGUF control vector; open it as safetensors');
  if (kind === 'json') return fail(path, 'is a JSON file, not a GGUF control vector');
  return fail(path, describeUnreadable(kind, head));
}

function fail(path: string, problem: string): never {
  throw badFile(path, problem);
}

function readBounded(path: string, size: number): Buffer {
  if (size > MAX_VECTOR_FILE_BYTES) throw badFile(path, `is ${size} bytes; GGUF and JSON vector files are limited to ${MAX_VECTOR_FILE_BYTES} bytes`);
  return readRegularFile(path, 'vector file', 'bad_argument', MAX_VECTOR_FILE_BYTES);
}

function readSafetensorsSet(path: string): VectorSet {
  const reader = openSafetensors(path);
  try {
    const set = emptySet('safetensors');
    set.metadata = { ...reader.metadata };
    set.model = set.metadata.model ?? null;
    set.label = set.metadata.label ?? null;
    for (const name of reader.names()) {
      const { shape } = reader.info(name);
      // A vector is 1-D; [1, n] (one row, as some exporters write it) is accepted too. Other tensors are skipped, and said.
      const isVector = shape.length === 1 || (shape.length === 2 && shape[0] === 1);
      const width = shape[shape.length - 1];
      if (!isVector || width === 0 || width > MAX_VECTOR_VALUES) {
        set.warnings.push(`tensor "${name}" has shape [${shape.join(', ')}]; a vector is 1-D`);
        continue;
      }
      set.vectors.push({ key: name, hook: parseHookName(name) ? name : null, vector: reader.read(name) });
    }
    return set;
  } finally {
    reader.close();
  }
}

function readJsonSet(path: string, bytes: Buffer): VectorSet {
  const parsed = parseJson(bytes.toString('utf8'));
  if (!parsed.ok) throw badFile(path, `is ${parsed.message}`);
  const value = parsed.value;
  const set = emptySet('json');
  if (Array.isArray(value)) {
    set.vectors = [{ key: null, hook: null, vector: numbers(path, 'the list', value) }];
    return set;
  }
  if (typeof value !== 'object' || value === null) throw badFile(path, 'expected a list of numbers or an object holding one');
  const record = value as Record<string, unknown>;
  const neuronpedia = readNeuronpedia(record, path);
  if (neuronpedia) return neuronpedia;
  const keys = Object.keys(record).filter((name) => Array.isArray(record[name]));
  set.vectors = keys.map((key) => ({ key, hook: parseHookName(key) ? key : null, vector: numbers(path, `"${key}"`, record[key] as unknown[]) }));
  return set;
}

function numbers(path: string, what: string, list: unknown[]): Float32Array {
  if (list.length === 0) throw badFile(path, `${what} is empty`);
  if (list.length > MAX_VECTOR_VALUES) throw badFile(path, `${what} has ${list.length} values`);
  const bad = list.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (bad >= 0) throw badFile(path, `${what}[${bad}] is ${JSON.stringify(list[bad])}, not a finite number`);
  return Float32Array.from(list as number[]);
}
