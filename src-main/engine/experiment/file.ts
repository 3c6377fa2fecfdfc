/**
 * Experiment files on disk: `name.tiller.json`, plus `name.tiller.<hash>.safetensors`
 * beside it when the experiment holds vectors too large to read as JSON (tensors.ts).
 *
 * Saving writes the sidecar first, then the JSON, each atomically (write-atomically.ts),
 * then removes the previous sidecar. The sidecar's name carries a hash of its bytes, so a
 * new sidecar never replaces the one the current JSON refers to: a save killed at any
 * point leaves the previous JSON with its own sidecar, or the new JSON with its own.
 *
 * Opening treats the file as untrusted: size limits, JSON errors with line and column,
 * format and version checked first, then sidecar tensors resolved, older versions
 * migrated, and the result validated with errors naming the field.
 */
import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { safeParseBounded } from '../../../src-shared/issues';
import { parseJson } from '../../../src-shared/json-syntax';
import { EngineError } from '../errors';
import { checkInsideFolder, readRegularFile, readTextFile } from '../model/file-io';
import { openSafetensors, type TensorReader } from '../model/safetensors';
import { checkReplaceable, removeStaleTemps, writeAtomically } from '../write-atomically';
import { documentError, zodIssues } from './issues';
import { formatDocument, parseJsonText } from './json-text';
import { experimentVersion, migrateExperiment } from './migrate';
import { safetensorsBytes } from '../model/safetensors-write';
import { EXPERIMENT_FORMAT, EXPERIMENT_VERSION, experimentSchema, type Experiment } from './schema';
import { extractTensors, resolveTensors, type SidecarAccess } from './tensors';

/** A document this size is far beyond any real experiment (the vectors are in the sidecar). */
export const MAX_EXPERIMENT_JSON_BYTES = 64 * 1024 * 1024;
/** Vectors become JS number arrays on open, about twice the size in memory. */
export const MAX_SIDECAR_BYTES = 256 * 1024 * 1024;

const SIDECAR_FORMAT = 'tiller-experiment-tensors';
export const EXPERIMENT_SUFFIX = '.tiller.json';
const HASH_CHARS = 12;

export interface SavedExperiment {
  path: string;
  /** The sidecar's path, or null when every vector fitted in the JSON. */
  sidecar: string | null;
  /** Problems after the save succeeded, e.g. an old sidecar that could not be removed. */
  warnings: string[];
}

export interface OpenedExperiment {
  experiment: Experiment;
  /** Version the file was written in when older than this Tiller's (it was migrated), else null. */
  migratedFrom: number | null;
  /** Things the user should know that do not stop the file from opening. */
  warnings: string[];
}

/** An experiment as saved: the in-memory value validated and filled in, so its layout follows the schema. */
export function validateExperiment(value: unknown, file: string, what = 'invalid experiment'): Experiment {
  const parsed = safeParseBounded(experimentSchema, value);
  if (!parsed.success) throw documentError(file, what, zodIssues(parsed.error.issues));
  return parsed.data;
}

/** Save atomically (see the file comment). The experiment is saved as given: callers set updatedAt. */
export function saveExperiment(path: string, experiment: Experiment): SavedExperiment {
  checkSaveTarget(path);
  const base = documentBase(path);
  const dir = dirname(path);
  const valid = validateExperiment(experiment, path, 'cannot save an invalid experiment');
  const { document, tensors } = extractTensors(valid);

  let sidecar: string | null = null;
  if (tensors.size > 0) {
    const bytes = safetensorsBytes(tensors, { format: SIDECAR_FORMAT, version: String(EXPERIMENT_VERSION) });
    sidecar = `${base}.${sha256(bytes).slice(0, HASH_CHARS)}.safetensors`;
    writeAtomically(join(dir, sidecar), bytes);
  }
  // format and version first, then the sidecar's name, then the rest in schema order.
  const { format, version, ...rest } = document;
  const onDisk = { format, version, ...(sidecar ? { sidecar } : {}), ...rest };
  writeAtomically(path, Buffer.from(`${formatDocument(onDisk)}\n`, 'utf8'));

  // Only now is the previous sidecar unreferenced.
  const warnings = removeSidecars(dir, base, sidecar);
  removeStaleTemps(dir, (target) => target === basename(path) || isSidecarName(target, base));
  return { path, sidecar: sidecar && join(dir, sidecar), warnings };
}

/** Remove a saved experiment: the JSON first, so no document is left pointing at a missing sidecar. */
export function removeExperiment(path: string): void {
  rmSync(path, { force: true });
  const dir = dirname(path);
  const base = documentBase(path);
  removeSidecars(dir, base, null);
  removeStaleTemps(dir, (target) => target === basename(path) || isSidecarName(target, base));
}

export function openExperiment(path: string): OpenedExperiment {
  const text = readDocumentText(path);
  const raw = parseJsonText(text, path);
  const version = experimentVersion(raw, path);
  const { sidecar: sidecarName, ...document } = raw as Record<string, unknown>;
  const warnings: string[] = [];

  const sidecar = sidecarName === undefined ? null : lazySidecar(path, sidecarName, warnings);
  let resolved: unknown;
  try {
    resolved = resolveTensors(document, sidecar, path);
  } finally {
    sidecar?.close();
  }
  const migrated = migrateExperiment(resolved as Record<string, unknown>, version, path);
  const migratedFrom = version < EXPERIMENT_VERSION ? version : null;
  if (migratedFrom !== null) warnings.push(`${basename(path)} was written in experiment format version ${version}; saving it writes version ${EXPERIMENT_VERSION}`);
  const what = migratedFrom === null ? 'invalid experiment' : `invalid experiment (after migrating from format version ${version})`;
  return { experiment: validateExperiment(migrated, path, what), migratedFrom, warnings };
}

function readDocumentText(path: string): string {
  return readTextFile(path, 'experiment file', 'bad_experiment', MAX_EXPERIMENT_JSON_BYTES);
}

/** The sidecar a document names, opened when the first tensor reference needs it. */
function lazySidecar(path: string, name: unknown, warnings: string[]): SidecarAccess & { close(): void } {
  // A bare file name beside the document: a path could point a shared file anywhere.
  if (typeof name !== 'string' || !/^[^/\\:]+\.safetensors$/.test(name) || name.startsWith('.')) {
    throw new EngineError('bad_experiment', `${path}: sidecar: expected the file name of a .safetensors file beside the experiment, found ${JSON.stringify(name)}`);
  }
  const file = join(dirname(path), name);
  let reader: TensorReader | null = null;
  const open = (): TensorReader => {
    checkInsideFolder(file, dirname(path), 'tensors file', 'bad_experiment');
    let bytes: Buffer;
    try {
      bytes = readRegularFile(file, 'tensors file', 'bad_experiment', MAX_SIDECAR_BYTES);
    } catch (error) {
      if (error instanceof EngineError && error.code === 'not_found') throw new EngineError('bad_experiment', `its tensors file ${name} is missing (it must sit beside ${basename(path)})`);
      throw error;
    }
    // The name carries a hash of the bytes Tiller wrote; a mismatch means it was changed
    // since (perhaps on purpose, from Python), which is worth saying but not refusing.
    const hash = /\.([0-9a-f]{12})\.safetensors$/.exec(name)?.[1];
    if (hash && sha256(bytes).slice(0, HASH_CHARS) !== hash) {
      warnings.push(`${name} has changed since Tiller saved it; its vectors are used as they are now`);
    }
    try {
      return openSafetensors(file);
    } catch (error) {
      if (error instanceof EngineError) throw new EngineError('bad_experiment', error.message);
      throw error;
    }
  };
  return {
    name,
    reader: () => (reader ??= open()),
    close: () => reader?.close(),
  };
}

/**
 * A save may only create or replace a Tiller experiment: the name ends in .tiller.json,
 * and a file already there is a Tiller experiment, not a link and not some other JSON
 * (a client holding the token could otherwise overwrite any *.json the user can write).
 */
function checkSaveTarget(path: string): void {
  if (!basename(path).endsWith(EXPERIMENT_SUFFIX) || basename(path) === EXPERIMENT_SUFFIX) {
    throw new EngineError('bad_argument', `${path}: experiment files must end in ${EXPERIMENT_SUFFIX}`);
  }
  checkReplaceable(path, isExperimentFile, 'a Tiller experiment');
}

/** The file's JSON names the experiment format (its content is not validated here). */
function isExperimentFile(path: string): boolean {
  const parsed = parseJson(readTextFile(path, 'experiment file', 'bad_experiment', MAX_EXPERIMENT_JSON_BYTES));
  return parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && (parsed.value as { format?: unknown }).format === EXPERIMENT_FORMAT;
}

/** "runs/a.tiller.json" -> "a.tiller": the stem shared by the document and its sidecars. */
function documentBase(path: string): string {
  const name = basename(path);
  if (!name.endsWith('.json') || name === '.json') {
    throw new EngineError('bad_argument', `${path}: experiment files must end in .json (normally .tiller.json)`);
  }
  return name.slice(0, -'.json'.length);
}

function isSidecarName(name: string, base: string): boolean {
  return name.startsWith(base) && /^\.[0-9a-f]{12}\.safetensors$/.test(name.slice(base.length));
}

function removeSidecars(dir: string, base: string, keep: string | null): string[] {
  const warnings: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return warnings; // no directory, no sidecars
  }
  for (const name of names) {
    if (name === keep || !isSidecarName(name, base)) continue;
    try {
      rmSync(join(dir, name), { force: true });
    } catch (error) {
      warnings.push(`could not remove the old tensors file ${name}: ${(error as Error).message}`);
    }
  }
  return warnings;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
