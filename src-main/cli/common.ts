/** What every command shares: flag validation and a loaded model for the length of the command. */
import type { z } from 'zod';
import { Engine, type ExecutionProvider, type ModelHandle } from '../engine/api';
import { describeIssues } from './args';

/** A command-line mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export function validate<S extends z.ZodType>(schema: S, flags: Record<string, unknown>): z.output<S> {
  const result = schema.safeParse(flags);
  if (!result.success) throw new UsageError(describeIssues(result.error));
  return result.data;
}

export async function withModel<T>(args: { model: string; tokenizer?: string; ep: ExecutionProvider; threads?: number }, use: (model: ModelHandle) => Promise<T>): Promise<T> {
  const engine = Engine.create({ executionProvider: args.ep, threads: args.threads });
  try {
    const model = await engine.loadModel(args.model, { tokenizerPath: args.tokenizer });
    if (model.fallbackReason) process.stderr.write(`note: ${model.fallbackReason}\n`);
    return await use(model);
  } finally {
    await engine.close();
  }
}
