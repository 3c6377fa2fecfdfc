/**
 * What a family file provides to the shared loader. config.ts dispatches on
 * `architectures[0]` through a table of these, so adding a family means adding a file
 * and a table row, not a branch in shared code.
 */
import type { z } from 'zod';
import { EngineError } from '../../errors';
import type { ModelSpec } from '../spec';

export interface ModelFamily {
  family: ModelSpec['family'];
  /** Values of config.json `architectures[0]` this family builds. */
  architectures: readonly string[];
  /** Parse a config.json object (`file` is named in errors). */
  specFromConfig(config: unknown, file: string): ModelSpec;
  /** The checkpoint tensor name holding a canonical parameter, or null when the family has no such tensor. */
  checkpointName(canonical: string): string | null;
}

/**
 * Build a canonical -> checkpoint name lookup from `[checkpoint, canonical]` template
 * pairs, where `{i}` stands for a layer index, e.g.
 * `['model.layers.{i}.input_layernorm.weight', 'blocks.{i}.ln1.weight']`.
 */
export function weightNameLookup(pairs: ReadonlyArray<readonly [checkpoint: string, canonical: string]>): (canonical: string) => string | null {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rules = pairs.map(([checkpoint, canonical]) => ({
    pattern: new RegExp(`^${escape(canonical).replace('\\{i\\}', '(\\d+)')}$`),
    checkpoint,
  }));
  return (canonical) => {
    for (const { pattern, checkpoint } of rules) {
      const match = pattern.exec(canonical);
      if (match) return checkpoint.replace('{i}', match[1] ?? '');
    }
    return null;
  };
}

/** Validate a config against a family schema; failures list every offending field path. */
export function parseConfig<Schema extends z.ZodType>(schema: Schema, config: unknown, file: string): z.output<Schema> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new EngineError('bad_config', `${file}: invalid config (${problems.join('; ')})`, { fields: problems });
}
