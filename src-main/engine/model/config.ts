/**
 * config.json -> ModelSpec. Reads the file, then hands it to the family that builds
 * `architectures[0]`; all family knowledge lives in families/*.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseJson } from '../../../src-shared/json-syntax';
import { EngineError } from '../errors';
import { fileInFolder, readTextFile } from './file-io';
import { checkSpecBounds } from './spec-bounds';
import { type ModelFamily, parseConfig } from './families/family';
import { gemma2Family } from './families/gemma2';
import { gemma3Family } from './families/gemma3';
import { gpt2Family } from './families/gpt2';
import { llamaFamily } from './families/llama';
import { mistralFamily } from './families/mistral';
import { phi3Family } from './families/phi3';
import { qwen2Family } from './families/qwen2';
import { qwen3Family } from './families/qwen3';
import type { ModelSpec } from './spec';

const FAMILIES: readonly ModelFamily[] = [llamaFamily, mistralFamily, gpt2Family, qwen2Family, qwen3Family, gemma2Family, gemma3Family, phi3Family];

const byArchitecture = new Map(FAMILIES.flatMap((family) => family.architectures.map((arch) => [arch, family] as const)));
const byFamily = new Map(FAMILIES.map((family) => [family.family, family] as const));

export const supportedArchitectures = (): string[] => [...byArchitecture.keys()];

/** The family that built a spec (every ModelSpec['family'] has one). */
export function familyOf(spec: ModelSpec): ModelFamily {
  const family = byFamily.get(spec.family);
  if (!family) throw new EngineError('unsupported_architecture', `no family file for "${spec.family}"`);
  return family;
}

/** config.json files are a few KB. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

const dispatchSchema = z.object({ architectures: z.array(z.string()).min(1) });

/** Parse `<folder>/config.json` into a ModelSpec. */
export function specFromConfig(folder: string): ModelSpec {
  const file = fileInFolder(folder, 'config.json', 'config', 'bad_config');
  if (!existsSync(file)) throw new EngineError('bad_config', `${file} does not exist (a Hugging Face model folder needs one)`);
  const parsed = parseJson(readTextFile(file, 'config', 'bad_config', MAX_CONFIG_BYTES));
  if (!parsed.ok) throw new EngineError('bad_config', `${file}: ${parsed.message}`);
  const config = parsed.value;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new EngineError('bad_config', `${file}: not a JSON object`);
  }
  const architecture = parseConfig(dispatchSchema, config, file).architectures[0];
  const family = byArchitecture.get(architecture);
  if (!family) {
    throw new EngineError(
      'unsupported_architecture',
      `${file}: architecture ${architecture} is not supported (supported: ${supportedArchitectures().join(', ')})`,
      { architecture, supported: supportedArchitectures() },
    );
  }
  const spec = family.specFromConfig(config, file);
  checkSpecBounds(spec, file, 'bad_config');
  return spec;
}
