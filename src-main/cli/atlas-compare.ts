/**
 * atlas compare: each neuron's top-1 decoded token in two models of one shape (a base and
 * its instruct tune, METHODS.md 5), per layer and overall, and the neurons whose top
 * token changed. Prints a readable summary, or with --json one object (snake_case keys,
 * src-shared's atlasCompareOutputSchema).
 */
import { z } from 'zod';
import { ATLAS_RANKINGS, NEURON_MATRICES, atlasCompareOutputSchema, compareAtlases, type AtlasCompareOutput, type ModelHandle } from '../engine/api';
import { modelOptions, numberFlag } from './args';
import { cancelOnSigint, progressLine, validate, withModel } from './common';

const compareArgsSchema = z.object({
  ...modelOptions,
  other: z.string().min(1, '--other is required: the model to compare with --model'),
  layers: z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'expected comma-separated layers, e.g. 0,5,11')
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .optional(),
  matrix: z.enum(NEURON_MATRICES).default('up'),
  normalise: z.enum(ATLAS_RANKINGS).default('none'),
  noFinalNorm: z.boolean().default(false),
  limit: numberFlag('limit').pipe(z.int().min(1).max(10_000)).optional(),
  chunkSize: numberFlag('chunk-size').pipe(z.int().min(1).max(4096)).optional(),
  json: z.boolean().default(false),
});

const percent = (fraction: number): string => `${(fraction * 100).toFixed(1)}%`;

export async function atlasCompareCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(compareArgsSchema, flags);
  await withModel(args, async (base, loadOther) => {
    const other = await loadOther(args.other);
    const request = { layers: args.layers ?? null, matrix: args.matrix, finalNorm: !args.noFinalNorm, normalise: args.normalise, limit: args.limit, chunkSize: args.chunkSize };
    const result = await compareAtlases(base, other, request, { signal: cancelOnSigint(), onProgress: progressLine('atlas compare', 1000) });
    process.stderr.write(`[${base.provider}] ${result.decoded} neuron directions decoded in ${result.seconds.toFixed(2)} s, ${result.cached} cached\n`);
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    const text = (model: ModelHandle, id: number): string => model.tokenizer.tokenText(id);
    if (args.json) {
      const output: AtlasCompareOutput = {
        layers: result.layers,
        matrix: result.matrix,
        final_norm: result.finalNorm,
        normalise: result.normalise,
        d_mlp: result.dMlp,
        per_layer: result.perLayer,
        same: result.same,
        total: result.total,
        agreement: result.agreement,
        changed: result.changed.map((entry) => ({
          layer: entry.layer,
          neuron: entry.neuron,
          base: { ...entry.base, text: text(base, entry.base.id) },
          other: { ...entry.other, text: text(other, entry.other.id) },
        })),
        changed_count: result.changedCount,
        decoded: result.decoded,
        cached: result.cached,
        seconds: result.seconds,
        warnings: result.warnings,
      };
      // Checked against the published schema, so what scripts read is what it says.
      process.stdout.write(`${JSON.stringify(atlasCompareOutputSchema.parse(output))}\n`);
      return;
    }
    process.stdout.write(`same top-1 ${result.matrix} token in ${result.same} of ${result.total} neurons (${percent(result.agreement)})${result.normalise === 'zscore' ? ', ranked by z-score' : ''}\n`);
    for (const entry of result.perLayer) process.stdout.write(`  layer ${entry.layer}: ${percent(entry.agreement)} (${entry.same}/${result.dMlp})\n`);
    if (result.changed.length > 0) process.stdout.write(`changed (${result.changed.length} of ${result.changedCount} shown):\n`);
    for (const { layer, neuron, base: a, other: b } of result.changed) {
      process.stdout.write(`  L${layer}N${neuron}  ${JSON.stringify(text(base, a.id))} ${percent(a.prob)} -> ${JSON.stringify(text(other, b.id))} ${percent(b.prob)}\n`);
    }
  });
}
