import { z } from 'zod';

/**
 * Generation settings: one schema shared by the CLI flags, IPC requests and experiment
 * files, so every entry point validates the same way and shows the same defaults.
 * Unknown keys are rejected, so a misspelt setting in an experiment file fails loudly
 * instead of silently falling back to its default.
 */
export const generationSettingsSchema = z.strictObject({
  maxNewTokens: z.int().min(1).max(8192).default(128).describe('Most tokens to generate after the prompt'),
  temperature: z.number().min(0).default(0).describe('Softmax temperature; 0 means greedy (argmax)'),
  topK: z.int().min(0).default(0).describe('Sample only from the k most likely tokens; 0 turns it off'),
  topP: z
    .number()
    .gt(0)
    .max(1)
    .default(1)
    .describe('Nucleus sampling: the smallest set of tokens with this cumulative probability; 1 turns it off'),
  repetitionPenalty: z
    .number()
    .gt(0)
    .default(1)
    .describe('CTRL-style penalty on tokens already in the context; 1 turns it off, >1 discourages repeats'),
  seed: z.int().min(0).default(0).describe('Seed of the sampling RNG; the same seed reproduces the same tokens'),
  stopAtEos: z.boolean().default(true).describe("Stop when the model emits one of the tokenizer's EOS tokens"),
  stopStrings: z
    .array(z.string().min(1))
    .default([])
    .describe('Stop when the generated text contains one of these; the text is cut before it'),
});

/** Settings after parsing: every field present. */
export type GenerationSettings = z.infer<typeof generationSettingsSchema>;

/** What callers may write: any field may be left out and takes its default. */
export type GenerationSettingsInput = z.input<typeof generationSettingsSchema>;

/** The defaults, frozen (stopStrings too) so no caller can change them for everyone else. */
export const defaultGenerationSettings: Readonly<GenerationSettings> = generationSettingsSchema.parse({});
Object.freeze(defaultGenerationSettings.stopStrings);
Object.freeze(defaultGenerationSettings);
