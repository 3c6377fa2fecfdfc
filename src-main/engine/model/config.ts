/**
 * config.json -> ModelSpec. Reads the file, then hands it to the family that builds
 * `architectures[0]`; all family knowledge lives in families/*.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EngineError } from '../errors';
import { type ModelFamily, parseConfig } from './families/family';
import { llamaFamily } from './families/llama';
import type { ModelSpec } from './spec';

const FAMILIES: readonly ModelFamily[] = [llamaFamily];

const byArchitecture = new Map(FAMILIES.flatMap((family) => family.architectures.map((arch) => [arch, family] as const)));
const byFamily = new Map(FAMILIES.map((family) => [family.family, family] as const));

export const supportedArchitectures = (): string[] => [...byArchitecture.keys()];

/** The family that built a spec (every ModelSpec['family'] has one). */
export function familyOf(spec: ModelSpec): ModelFamily {
  const family = byFamily.get(spec.family);
  if (!family) throw new EngineError('unsupported_architecture', `no family file for "${spec.family}"`);
  return family;
}

const dispatchSchema = z.object({ architectures: z.array(z.string()).min(1) });

/** Parse `<folder>/config.json` into a ModelSpec. */
export function specFromConfig(folder: string): ModelSpec {
  const file = join(folder, 'config.json');
  if (!existsSync(file)) throw new EngineError('bad_config', `${file} does not exist (a Hugging Face model folder needs one)`);
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new EngineError('bad_config', `${file}: not valid JSON (${(error as Error).message})`);
  }
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
  return family.specFromConfig(config, file);
}
