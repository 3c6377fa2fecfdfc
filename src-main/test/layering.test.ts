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

const SHARED = ['src-main/engine/errors', 'src-main/engine/write-atomically'];

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
});
