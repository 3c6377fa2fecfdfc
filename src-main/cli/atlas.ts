/**
 * The neuron atlas command: one layer's table of decoded neurons, a token search, and the
 * neurons most active on a prompt (`atlas compare`: atlas-compare.ts). Prints a readable table, or with --json one object
 * (snake_case keys, like every command); neurons per second go to stderr.
 */
import { z } from 'zod';
import { ATLAS_RANKINGS, NEURON_MATRICES, neuronAtlas, tokenFromText, type AtlasNeuron, type ModelHandle, type NeuronDecoding } from '../engine/api';
import { intList, modelOptions, numberFlag } from './args';
import { atlasCompareCommand } from './atlas-compare';
import { UsageError, cancelOnSigint, progressLine, validate, withModel } from './common';

const atlasArgsSchema = z
  .object({
    ...modelOptions,
    layer: numberFlag('layer').pipe(z.int().min(0)).optional(),
    top: numberFlag('top').pipe(z.int().min(1).max(100)).optional(),
    search: z.string().min(1).optional(),
    matrix: z.enum(NEURON_MATRICES).default('up'),
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    limit: numberFlag('limit').pipe(z.int().min(1).max(1000)).optional(),
    chunkSize: numberFlag('chunk-size').pipe(z.int().min(1).max(4096)).optional(),
    noFinalNorm: z.boolean().default(false),
    normalise: z.enum(ATLAS_RANKINGS).default('none'),
    json: z.boolean().default(false),
  })
  .refine((a) => a.prompt === undefined || a.promptIds === undefined, { message: 'give at most one of --prompt and --prompt-ids' });

const decodingJson = (model: ModelHandle, decoding: NeuronDecoding | null) =>
  decoding && { ids: decoding.ids, tokens: decoding.ids.map((id) => model.tokenizer.tokenText(id)), probs: decoding.probs, entropy: decoding.entropy, z_scores: decoding.scores };

const neuronJson = (model: ModelHandle, entry: AtlasNeuron) => ({ layer: entry.layer, neuron: entry.neuron, up: decodingJson(model, entry.up), gate: decodingJson(model, entry.gate), down: decodingJson(model, entry.down) });

const topText = (model: ModelHandle, decoding: NeuronDecoding | null): string =>
  decoding ? decoding.ids.slice(0, 5).map((id, rank) => `${JSON.stringify(model.tokenizer.tokenText(id))} ${(decoding.probs[rank] * 100).toFixed(1)}%`).join(' ') : '-';

export async function atlasCommand(flags: Record<string, unknown>, positionals: string[] = []): Promise<void> {
  if (positionals[0] === 'compare' && positionals.length === 1) return atlasCompareCommand(flags);
  if (positionals.length > 0) throw new UsageError(`atlas takes no argument but the subcommand compare, got "${positionals.join(' ')}"`);
  const args = validate(atlasArgsSchema, flags);
  await withModel(args, async (model) => {
    const ids = args.promptIds ?? (args.prompt === undefined ? null : model.tokenizer.encode(args.prompt));
    const search = args.search === undefined ? null : tokenFromText(model.tokenizer, args.search, '--search');
    const request = { layer: args.layer ?? null, top: args.top, finalNorm: !args.noFinalNorm, normalise: args.normalise, search, searchMatrix: args.matrix, ids, limit: args.limit, chunkSize: args.chunkSize };
    const result = await neuronAtlas(model, request, { signal: cancelOnSigint(), onProgress: progressLine('atlas', 1000) });
    const rate = result.neuronsPerSecond === null ? 'all from the cache' : `${Math.round(result.neuronsPerSecond)} neurons/s`;
    process.stderr.write(`[${model.provider}] ${result.decoded} neuron directions decoded in ${result.seconds.toFixed(2)} s (${rate}), ${result.cached} cached, ${result.graphRuns} graph runs\n`);
    if (args.json) {
      const output = {
        layers: result.layers,
        d_mlp: result.dMlp,
        matrices: result.matrices,
        top: result.top,
        final_norm: result.finalNorm,
        normalise: result.normalise,
        table: result.table?.map((entry) => neuronJson(model, entry)) ?? null,
        search: result.search && {
          token: result.search.token,
          token_text: model.tokenizer.tokenText(result.search.token),
          matrix: result.search.matrix,
          neurons: result.search.neurons.map((entry) => ({ ...neuronJson(model, entry), logit: entry.logit, z_score: entry.score, prob: entry.prob, rank: entry.rank })),
        },
        active: result.active && { ids: result.active.ids, neurons: result.active.neurons.map((entry) => ({ ...neuronJson(model, entry), activation: entry.activation, position: entry.position })) },
        decoded: result.decoded,
        cached: result.cached,
        seconds: result.seconds,
        neurons_per_second: result.neuronsPerSecond,
        graph_runs: result.graphRuns,
      };
      process.stdout.write(`${JSON.stringify(output)}\n`);
      return;
    }
    const line = (entry: AtlasNeuron, note = ''): string =>
      `L${entry.layer}N${entry.neuron}${note}\n${result.matrices.map((matrix) => `    ${matrix.padEnd(4)} ${topText(model, entry[matrix])}`).join('\n')}\n`;
    if (result.search) {
      process.stdout.write(`neurons whose ${result.search.matrix} direction says ${JSON.stringify(model.tokenizer.tokenText(result.search.token))}:\n`);
      for (const entry of result.search.neurons) process.stdout.write(line(entry, `  logit ${entry.logit.toFixed(3)} p ${entry.prob.toExponential(2)}${entry.rank === null ? '' : ` rank ${entry.rank + 1}`}`));
    }
    if (result.active) {
      process.stdout.write('neurons most active on the prompt:\n');
      for (const entry of result.active.neurons) process.stdout.write(line(entry, `  ${entry.activation.toFixed(3)} at position ${entry.position}`));
    }
    if (result.table) for (const entry of result.table) process.stdout.write(line(entry));
  });
}
