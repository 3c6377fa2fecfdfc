/**
 * Imports go one way (STYLE.md, "Layering"): this test reads every source file's imports
 * and fails with "bad layering" naming the file and the import that breaks the rule.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|svelte)$/.test(name) && !/\.test\.ts$/.test(name) ? [path] : [];
  });
}

interface ImportRef {
  specifier: string;
  typeOnly: boolean;
}

function importsOf(file: string): ImportRef[] {
  const text = readFileSync(file, 'utf8');
  const refs: ImportRef[] = [];
  const pattern = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm;
  for (const match of text.matchAll(pattern)) refs.push({ specifier: match[3], typeOnly: Boolean(match[2]) });
  return refs;
}

/** The layer of a repository-relative path, e.g. "engine/model", "engine/api.ts", "cli". */
function layerOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'src-renderer') return 'renderer';
  if (parts[0] === 'src-shared') return 'shared';
  if (parts[1] === 'engine') return `engine/${parts[2]}`;
  return parts[1];
}

// For each layer, the engine layers it may import values from (errors.ts and write-atomically.ts are shared by all).
const ALLOWED: Record<string, string[]> = {
  'engine/model': ['engine/model'],
  'engine/hooks': ['engine/hooks', 'engine/model'],
  'engine/graph': ['engine/graph', 'engine/model', 'engine/hooks'],
  'engine/runtime': ['engine/runtime'],
  'engine/generate': ['engine/generate', 'engine/runtime', 'engine/graph', 'engine/hooks', 'engine/model'],
  'engine/analysis': ['engine/analysis', 'engine/plan', 'engine/generate', 'engine/runtime', 'engine/graph', 'engine/hooks', 'engine/model'],
  'engine/experiment': ['engine/experiment', 'engine/hooks', 'engine/model', 'engine/generate'],
  // Vector files other tools read and write (GGUF, safetensors, Neuronpedia, SAELens): data only, no runtime.
  'engine/interchange': ['engine/interchange', 'engine/hooks', 'engine/model'],
};

// graph-io.ts names the graph's inputs and outputs: data every layer that builds, feeds or runs the graph uses.
const SHARED = ['src-main/engine/errors', 'src-main/engine/write-atomically', 'src-main/engine/graph-io'];

/**
 * Every folder of src-main, with the rule its files follow; a folder missing here fails the
 * test, so a new folder is placed in the layering on purpose.
 */
const FOLDERS: Record<string, string> = {
  app: 'Electron main process: engine/api.ts only',
  bench: 'diagnostic: measures engine internals directly',
  cli: 'engine/api.ts only',
  engine: 'the engine; its folders below',
  'engine/analysis': 'ALLOWED',
  'engine/analysis/vectors': 'part of engine/analysis',
  'engine/experiment': 'ALLOWED',
  'engine/experiment/test': 'test helpers of experiment',
  'engine/generate': 'ALLOWED',
  'engine/generate/decoding': 'part of engine/generate',
  'engine/graph': 'ALLOWED',
  'engine/hooks': 'ALLOWED',
  'engine/interchange': 'ALLOWED',
  'engine/model': 'ALLOWED',
  'engine/model/families': 'one file per family, imported only by the dispatcher (FAMILY_IMPORTERS)',
  'engine/model/tokenizer': 'part of engine/model',
  'engine/plan': 'compiles plans: any engine layer below the engine',
  'engine/runtime': 'ALLOWED',
  'engine/workbench': 'the app-facing engine service: any engine layer',
  preload: 'electron only',
  test: 'tests and fixtures: anything',
  'test/fixtures': 'part of test',
  'test/fixtures/phi3': 'part of test (config and tokenizer_config fixtures)',
  'test/fuzz': 'part of test',
  'test/reference': 'part of test',
  transport: 'engine/api.ts only',
};

/** A family file (families/*.ts other than the shared family.ts) may be imported only by these. */
const FAMILY_IMPORTERS = ['src-main/engine/model/config.ts'];
const isFamilyFile = (path: string): boolean => /^src-main\/engine\/model\/families\/(?!family$)[^/]+$/.test(path);

function folders(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? [path, ...folders(path)] : [];
  });
}

// src-shared holds what both sides parse with (schemas, the issue formatter): the engine
// and the renderer import it at run time, and it imports neither, only zod.
const SHARED_PACKAGES = ['zod'];

function violations(): string[] {
  const problems: string[] = [];
  const files = ['src-main', 'src-renderer', 'src-shared'].flatMap((dir) => (statExists(join(ROOT, dir)) ? sourceFiles(join(ROOT, dir)) : []));
  for (const file of files) {
    const from = relative(ROOT, file).split('\\').join('/');
    // Tests and the benchmark measure engine internals directly, by design.
    if (from.startsWith('src-main/test/') || from.startsWith('src-main/bench/')) continue;
    const layer = layerOf(from);
    for (const ref of importsOf(file)) {
      if (ref.specifier === 'onnxruntime-node' && layer !== 'engine/runtime') problems.push(`${from}: only engine/runtime may import onnxruntime-node`);
      if (ref.specifier === 'electron' && !['app', 'preload'].includes(layer)) problems.push(`${from}: only app and preload may import electron`);
      if (layer === 'shared' && !ref.specifier.startsWith('.') && !SHARED_PACKAGES.includes(ref.specifier)) problems.push(`${from}: src-shared may import only ${SHARED_PACKAGES.join(', ')} (imports ${ref.specifier})`);
      if (!ref.specifier.startsWith('.')) continue;
      const target = relative(ROOT, resolve(dirname(file), ref.specifier)).split('\\').join('/');
      // No shared file imports a family: only the dispatcher and other family files do.
      if (isFamilyFile(target) && !FAMILY_IMPORTERS.includes(from) && !from.startsWith('src-main/engine/model/families/')) {
        problems.push(`${from}: only ${FAMILY_IMPORTERS.join(', ')} may import the family file ${target}`);
      }
      if (layer === 'shared') {
        if (!target.startsWith('src-shared/')) problems.push(`${from}: src-shared may not import ${target}`);
        continue;
      }
      const targetLayer = layerOf(target);
      const isEngineTarget = target.startsWith('src-main/engine/');
      if (layer === 'renderer') {
        if (target.startsWith('src-main/') && !(ref.typeOnly && target === 'src-main/engine/api')) problems.push(`${from}: the renderer may only \`import type\` from engine/api.ts (imports ${target})`);
        continue;
      }
      if (['cli', 'app', 'preload', 'transport'].includes(layer)) {
        if (isEngineTarget && target !== 'src-main/engine/api') problems.push(`${from}: ${layer} may only import engine/api.ts (imports ${target})`);
        continue;
      }
      const allowed = ALLOWED[layer];
      if (!allowed || !isEngineTarget || ref.typeOnly || SHARED.includes(target)) continue;
      if (!allowed.includes(targetLayer)) problems.push(`${from}: ${layer} may not import ${target}`);
    }
  }
  return problems;
}

function statExists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

describe('layering', () => {
  it('has no bad layering', () => {
    expect(violations(), 'bad layering').toEqual([]);
  });

  it('knows every folder of src-main', () => {
    const unknown = folders(join(ROOT, 'src-main'))
      .map((path) => relative(join(ROOT, 'src-main'), path).split('\\').join('/'))
      .filter((folder) => !(folder in FOLDERS));
    expect(unknown, 'folders of src-main the layering test does not know: add each to FOLDERS with its rule').toEqual([]);
  });

  it('flags a shared file that imports a family file', () => {
    expect(isFamilyFile('src-main/engine/model/families/llama')).toBe(true);
    expect(isFamilyFile('src-main/engine/model/families/family')).toBe(false);
  });
});
