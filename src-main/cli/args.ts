/**
 * Command-line arguments: parsed with node:util, validated with zod. Flags map one to
 * one onto engine request fields; defaults live in the schemas (generation defaults in
 * engine/generate/settings.ts) and are printed by the usage text.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_ACCURACY_LEVEL, DEFAULT_BLOCK_SIZE, DEFAULT_CLAMP_MULTIPLES, EXECUTION_PROVIDERS, WEIGHT_FORMATS, defaultGenerationSettings } from '../engine/api';

const d = defaultGenerationSettings;

export const USAGE = `Usage: npm run cli -- <command> [options]

Commands
  generate   Generate text from a prompt
  run        One forward pass over a prompt with an intervention plan; prints JSON
  replay     Generate a saved experiment's variants again and say whether they equal its saved results
  hooks      List the hook points a plan can name, with their dims and sizes
  lens       Logit lens: every block's residual stream read through the final norm and head
  patch      Activation patching sweep over layers x positions (or heads), batched
  trace      Causal tracing (ROME): noise the subject, restore each layer x position
  atlas      Neuron atlas: every MLP neuron's weights decoded through the final norm and head
             (atlas compare: two models' neurons, same top-1 token or not)
  consistency  Internal consistency: generate, then how far each block's logit lens agrees with each token
  clamp-curve  p(concept token) vs one MLP neuron's clamp value, every value one batch row
  tokenize   Print the token ids of a text
  vector     Steering vectors: extract from contrast prompts, convert between formats, sweep strength x layer, read SAEs

Model (all commands)
  --model PATH            Hugging Face folder, or a llama2.c .bin checkpoint
  --tokenizer FILE        llama2.c tokenizer.bin (default: tokenizer.bin or tok*.bin beside the .bin)
  --ep NAME               execution provider: ${EXECUTION_PROVIDERS.join(' | ')} (default cpu; falls back to cpu with a message)
  --threads N             intra-op threads (default: all logical cores)
  --weights FORMAT        ${WEIGHT_FORMATS.join(' | ')}: linear layers quantized in blocks (onnxruntime MatMulNBits),
                          converted once on first load and cached per model and format (default f32: exact)
  --block-size N          int8/int4: weights per quantization block, a power of two >= 16 (default ${DEFAULT_BLOCK_SIZE})
  --accuracy-level N      int8/int4: MatMulNBits accuracy_level, 0 = float32 math (exact on the quantized
                          weights, int8 much slower) ... 4 = int8 activations (default ${DEFAULT_ACCURACY_LEVEL})

generate
  --prompt TEXT | --prompt-ids 1,2,3
  --chat                  wrap the prompt in the model's chat template as a user message
  --max-new-tokens N      (default ${d.maxNewTokens})
  --temperature T         0 = greedy (default ${d.temperature})
  --top-k K               0 = off (default ${d.topK})
  --top-p P               1 = off (default ${d.topP})
  --repetition-penalty R  1 = off (default ${d.repetitionPenalty})
  --seed S                (default ${d.seed})
  --stop TEXT             stop string; repeat for several
  --no-stop               do not stop at EOS (nor at stop strings)
  --plan FILE             generate with an intervention plan applied at every step
  --variants FILE         a JSON array of variants generated side by side in one batch; each is a
                          plan, or {"name", "plan", "decoding"}; one result per variant. "decoding" is
                          an object, not a name: {"strategy": "greedy"}, {"strategy": "lfd", "candidateLayers":
                          [3, 4], "lambda": 0.5, "fusion": "logprob"} or {"strategy": "dola", "layers": "high",
                          "alpha": 0.1, "repetitionPenalty": 1.2}; omitted fields take the defaults below
  --decoding NAME         greedy | lfd | dola, for variants that do not name their own (default greedy)
    --layers L            lfd: candidate layers, e.g. 16,18; dola: low | high | explicit layers
                          (hidden-state indices: 0 = embeddings, l = output of block l-1)
    --lambda X            lfd: fusion weight of the chosen layer (default 0.5; 0 = greedy)
    --fusion F            lfd: logprob | logit | hidden (default logprob; the paper's form is unverified)
    --alpha A             dola: plausibility alpha (default 0.1); lfd: optional plausibility filter
    --dola-penalty R      dola: repetition penalty on the contrast scores (default 1.2)
    --final-norm          lfd: apply ln_final to intermediate layers (default); dola: to premature layers
    --no-final-norm       the opposite (dola's default)
  --json                  print one JSON object instead of streaming text (per-step chosen layer for lfd/dola)

run
  --prompt TEXT | --prompt-ids 1,2,3
  --plan FILE             intervention plan (JSON: captures and interventions by hook name)
  prints {"argmax_per_pos", "logits_last", "captures": {hook: nested arrays}}

replay FILE.tiller.json
  loads the model the experiment names in the weight format its results were made with
  (model.weights; f32 for files older than formats), generates every variant from the saved
  prompt ids and settings, and compares the tokens with the saved ones; exit status 1 when
  one differs. --model, --tokenizer and the weight flags override the file's, and the
  report says so (tokens may then differ for that reason alone)
  --json                  print {"model", "weights": {recorded, replayed, match}, "variants":
                          [{id, name, status, first_difference, ...}], "equal", "warnings"}

hooks
  --json                  print the list as JSON [{name, layer, site, dims, shape, indexUnit, nIndex}]

lens
  --prompt TEXT | --prompt-ids 1,2,3
  --target TOKEN          a token (text that encodes to one token, or #id): its probability and rank per layer
  --site NAME             resid_post (default) | resid_pre | resid_mid | attn_out | mlp_out
  --no-final-norm         unembed the raw stream (default: through the final norm, the logit lens)
  --json                  print {"layers", "positions", "top1", "top1_prob", "target_prob", "entropy", "kl_to_final", ...}

patch
  --clean TEXT --corrupted TEXT   prompts of equal token length (or --clean-ids / --corrupted-ids 1,2,3)
  --align A               prompts of different lengths: pair positions from the start, from the end,
                          or as clean:corrupted pairs (e.g. 0:0,4:5); unpaired positions are not patched
  --answer TOKEN --wrong TOKEN    the clean run's answer and the corrupted run's (text of one token, or #id)
  --hook NAME             resid_pre (default) | resid_mid | resid_post | attn_out | mlp_out | z (per head)
  --direction D           denoising (default: restore clean activations in the corrupted run) | noising
  --metric M              logit_diff (default) | prob | kl
  --positions P           each (default: one cell per position) | all (every position of a layer at once)
  --batch-size N          cells per forward pass (default 32)
  --out FILE              also write the effects as .csv or .safetensors
  --json                  print {"layers", "positions", "effect", "metric", "forward_passes", ...}
  prints the number of forward passes used to stderr

vector extract
  --positive FILE --negative FILE   one prompt per line (pairs line by line for --method pca)
  --hook NAME             where to read and add: a hook name, a comma list, or a range as
                          blocks.{1..4}.hook_resid_post
  --method M              mean (default: CAA mean difference) | pca (repeng: first PC of the
                          centred pair differences, unit length, sign toward the positives)
  --readout R             last (default) | mean (over the text's tokens) | answer (one position)
  --answer-position N     for --readout answer: counted from the end (default -2, CAA's "(A)")
  --batch-size N          prompts per forward pass (default 16)
  --out FILE              .gguf (llama.cpp; block outputs, blocks >= 1) | .safetensors | .json (Neuronpedia)
  --label TEXT            the vector's name in the file (default: the positive file's name)
  --model-hint NAME       GGUF controlvector.model_hint / Neuronpedia modelId (default: the model family)
  --json                  print {"vectors": [{hook, norm, residual_norm, relative_norm, ...}]}
  --method actadd --positive TEXT --negative TEXT --hook NAME
                          ActAdd: one pair (the texts themselves), padded with spaces to one token
                          length; the vector is their difference at each position (not averaged)
    --scale C             the coefficient (default 1)   --at A   the first prompt position (default 1)
    --out FILE.json       the intervention plan that adds row j at position A + j (generate --plan FILE)
    --json                print {"hook", "rows": [{position, positive, negative, norm, relative_norm}]}

vector convert IN... OUT
  reads GGUF, safetensors or Neuronpedia/plain JSON (by content) and writes OUT by its extension;
  several inputs sum per hook, as llama.cpp combines control vectors
  --scale S               one per input, in order (default 1 each; --scale=-1 when negative)
  --layers A..B           keep blocks A to B only (inclusive)
  --hook NAME             the hook of a vector whose file names none (a bare JSON list)
  --model-hint NAME       GGUF controlvector.model_hint / Neuronpedia modelId (default: the input's)
  --label TEXT  --strength S  --endpoint vector-new (default) | steer-completion   (Neuronpedia JSON)

vector sweep
  --prompt TEXT | --prompt-ids 1,2,3
  --vector FILE [--key K] the vector; a file with one per block uses each layer's own
  --site S                resid_post (default) | resid_pre | resid_mid | attn_out | mlp_out
  --layers 1,2,3          blocks to add it at       --scales=-4,0,4   strengths (with "=" when negative)
  --target TOKEN          also report p(TOKEN) at the first generated position
  --max-new-tokens N      per cell (default 24)     --batch-size N   cells per batch (default 8)
  --json                  print {"layers", "scales", "baseline", "cells": [[{text, perplexity, target_prob}]]}

vector function
  --prompts FILE          in-context prompts of one task, one per line ("\n" for a newline inside one)
  --heads L.H,L.H         the attention heads whose mean last-token output is summed (e.g. 1.2,3.0)
  --inject-layer N        the block whose output receives it (default: a third of the way in)
  --out FILE              .gguf | .safetensors | .json (Neuronpedia); --json prints each head's norm

vector sae
  --sae DIR               an SAELens folder (cfg.json + sae_weights.safetensors); refused if its hook
                          or d_in does not fit the model
  --prompt TEXT | --prompt-ids 1,2,3   print each token's most active features (--top N, default 5)
  --feature N --out FILE  write feature N's decoder row, at the SAE's hook, as a vector file
  --json                  print {"sae", "tokens": [{id, text, features: [{feature, activation}]}]}

trace
  --prompt TEXT | --prompt-ids 1,2,3
  --subject TEXT          the tokens to noise (or --subject-positions START,END: positions [START, END))
  --answer TOKEN          the token whose probability is restored (default: the clean run's top-1)
  --kind K                hidden (default: block output) | mlp | attn
  --window N              layers restored together for mlp and attn (default 10)
  --samples S             noise samples (default 10); --seed N (default 0); --noise-scale X (default 3 x embedding std)
  --json                  print {"layers", "positions", "restored_prob", "indirect_effect", "clean_prob", "corrupted_prob", ...}

atlas
  --layer L               one layer: print its table of every neuron (default: every layer, decoded
                          and cached, for --search and --prompt)
  --top K                 tokens kept per neuron and matrix (default 10)
  --search TOKEN          neurons ranked by TOKEN's logit in their decoded direction (text of one token, or #id)
  --matrix M              the direction --search ranks: up (default; what the neuron reads) | gate | down (what it writes)
  --prompt TEXT | --prompt-ids 1,2,3   also list the neurons most active on it (largest |mlp.hook_post|)
  --limit N               neurons listed by --search and --prompt (default 50)
  --chunk-size N          neuron directions per graph run (default 256; fewer with a large vocabulary)
  --no-final-norm         decode the raw directions (default: through the final norm's scaling and gain)
  --normalise zscore      rank tokens (and --search neurons) by the logit's z-score across the layer's neurons,
                          not the logit: a token that tops many neurons stops labelling them all (default: none)
  --json                  print {"layers", "matrices", "table", "search", "active", "neurons_per_second", ...}
  decoded layers are cached per model and weight format; neurons per second go to stderr

atlas compare --model BASE --other TUNED
  each neuron's top-1 decoded token in two models of one shape (a base and its instruct tune)
  --layers 0,1,2          layers compared (default: every layer)
  --matrix M              up (default) | gate | down
  --normalise zscore      compare the z-score rankings (default: by logit); --no-final-norm as for atlas
  --limit N               changed neurons listed (default 1000; the counts cover all)
  --json                  print {"layers", "per_layer": [{layer, same, agreement}], "agreement", "changed": [...], ...}

consistency
  --prompt TEXT | --prompt-ids 1,2,3   --chat, --plan FILE, and the generation flags of generate
  --from-layer L          the first block the score counts: a block index, or middle (block N/2);
                          default 0: every block but the last (its lens is the output itself)
  --answers " True, False"  the answer set Y, comma-separated (a leading space is part of an answer):
                          also the paper's IC at the response's last answer token, each block's argmax
                          over Y's tokens; an answer of several tokens stands for its first (a warning says so)
  --samples K             calibrated self-consistency: K paths sampled with seeds S..S+K-1 (needs
                          --temperature and --answers): majority vote and IC-weighted vote
  --json                  print {"tokens": [{id, lens_top1, agree, score}], "layers", "ic", "answer", ...}

clamp-curve
  --prompt TEXT | --prompt-ids 1,2,3
  --layer L --neuron I    the neuron: its blocks.L.mlp.hook_post activation is set at every position
  --token TOKEN           the concept token whose probability is read (text of one token, or #id)
  --values A,B,C          multiples of the neuron's largest |activation| on the prompt (default
                          ${DEFAULT_CLAMP_MULTIPLES.join(',')}); "=" before a negative first value: --values=-5,0,5
  --absolute              --values are activations as given, not multiples
  --reference TEXT        observe the largest activation on this text instead of the prompt
  --average               also report p(TOKEN) averaged over every next-token position
  --batch-size N          clamp values per forward pass (default 64)
  --json                  print {"hook", "max_activation", "baseline", "points": [{value, prob, rank, mean_prob}], ...}
tokenize
  --text TEXT
  --no-special            do not add special tokens (BOS)
  --json                  print {"ids": [...]}
`;

export const intList = z
  .string()
  .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'expected comma-separated token ids, e.g. 1,2,3')
  .transform((s) => s.split(',').map((x) => Number(x.trim())));
export const numberFlag = (name: string) => z.string().transform((s, ctx) => {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) ctx.addIssue({ code: 'custom', message: `--${name} must be a number, got "${s}"` });
  return n;
});

/** Comma-separated numbers; a list starting with a minus sign needs "=" (--scales=-4,0,4), or parseArgs reads it as a flag. */
export const numberList = (name: string) =>
  z.string().transform((s, ctx) => {
    const values = s.split(',').map((x) => Number(x.trim()));
    if (values.some((x, i) => !Number.isFinite(x) || s.split(',')[i].trim() === '')) ctx.addIssue({ code: 'custom', message: `--${name} must be comma-separated numbers, got "${s}"` });
    return values;
  });

export const modelOptions = {
  model: z.string().min(1, '--model is required'),
  tokenizer: z.string().optional(),
  ep: z.enum(EXECUTION_PROVIDERS).default('cpu'),
  threads: numberFlag('threads').pipe(z.int().min(1).max(256)).optional(),
  weights: z.enum(WEIGHT_FORMATS).default('f32'),
  blockSize: numberFlag('block-size').optional(),
  accuracyLevel: numberFlag('accuracy-level').optional(),
};

/** A prompt and the generation settings (common.ts settingsFromFlags), as generate and consistency take them. */
export const generationOptions = {
  prompt: z.string().optional(),
  promptIds: intList.optional(),
  chat: z.boolean().default(false),
  maxNewTokens: numberFlag('max-new-tokens').optional(),
  temperature: numberFlag('temperature').optional(),
  topK: numberFlag('top-k').optional(),
  topP: numberFlag('top-p').optional(),
  repetitionPenalty: numberFlag('repetition-penalty').optional(),
  seed: numberFlag('seed').optional(),
  stop: z.array(z.string()).default([]),
  noStop: z.boolean().default(false),
};

export const generateArgsSchema = z
  .object({
    ...modelOptions,
    ...generationOptions,
    json: z.boolean().default(false),
    plan: z.string().optional(),
    variants: z.string().optional(),
    decoding: z.enum(['greedy', 'lfd', 'dola']).default('greedy'),
    layers: z.string().optional(),
    lambda: numberFlag('lambda').optional(),
    fusion: z.string().optional(),
    alpha: numberFlag('alpha').optional(),
    dolaPenalty: numberFlag('dola-penalty').optional(),
    finalNorm: z.boolean().optional(),
    noFinalNorm: z.boolean().optional(),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' })
  .refine((a) => a.plan === undefined || a.variants === undefined, { message: 'give --plan or --variants, not both (a variant carries its own plan)' });

export const runArgsSchema = z
  .object({
    ...modelOptions,
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    plan: z.string().optional(),
    json: z.boolean().default(true),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' });

export const hooksArgsSchema = z.object({ ...modelOptions, json: z.boolean().default(false) });

export const tokenizeArgsSchema = z.object({
  ...modelOptions,
  text: z.string({ error: '--text is required' }),
  noSpecial: z.boolean().default(false),
  json: z.boolean().default(false),
});

const FLAGS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  weights: { type: 'string' },
  'block-size': { type: 'string' },
  'accuracy-level': { type: 'string' },
  prompt: { type: 'string' },
  'prompt-ids': { type: 'string' },
  chat: { type: 'boolean' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'no-stop': { type: 'boolean' },
  json: { type: 'boolean' },
  text: { type: 'string' },
  plan: { type: 'string' },
  'no-special': { type: 'boolean' },
  variants: { type: 'string' },
  decoding: { type: 'string' },
  layers: { type: 'string' },
  lambda: { type: 'string' },
  fusion: { type: 'string' },
  alpha: { type: 'string' },
  'dola-penalty': { type: 'string' },
  'final-norm': { type: 'boolean' },
  target: { type: 'string' },
  site: { type: 'string' },
  clean: { type: 'string' },
  corrupted: { type: 'string' },
  'clean-ids': { type: 'string' },
  'corrupted-ids': { type: 'string' },
  answer: { type: 'string' },
  wrong: { type: 'string' },
  hook: { type: 'string' },
  direction: { type: 'string' },
  metric: { type: 'string' },
  positions: { type: 'string' },
  'batch-size': { type: 'string' },
  out: { type: 'string' },
  subject: { type: 'string' },
  'subject-positions': { type: 'string' },
  kind: { type: 'string' },
  window: { type: 'string' },
  samples: { type: 'string' },
  'noise-scale': { type: 'string' },
  'no-final-norm': { type: 'boolean' },
  normalise: { type: 'string' },
  other: { type: 'string' },
  positive: { type: 'string' },
  negative: { type: 'string' },
  method: { type: 'string' },
  readout: { type: 'string' },
  'answer-position': { type: 'string' },
  label: { type: 'string' },
  scale: { type: 'string', multiple: true },
  scales: { type: 'string' },
  vector: { type: 'string' },
  key: { type: 'string' },
  'model-hint': { type: 'string' },
  strength: { type: 'string' },
  endpoint: { type: 'string' },
  sae: { type: 'string' },
  prompts: { type: 'string' },
  heads: { type: 'string' },
  'inject-layer': { type: 'string' },
  at: { type: 'string' },
  top: { type: 'string' },
  feature: { type: 'string' },
  layer: { type: 'string' },
  search: { type: 'string' },
  matrix: { type: 'string' },
  limit: { type: 'string' },
  'chunk-size': { type: 'string' },
  align: { type: 'string' },
  answers: { type: 'string' },
  'from-layer': { type: 'string' },
  neuron: { type: 'string' },
  token: { type: 'string' },
  values: { type: 'string' },
  absolute: { type: 'boolean' },
  reference: { type: 'string' },
  average: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Split argv into the command, its positional arguments (vector convert IN OUT) and a camelCased flag object (unknown flags are errors). */
export function parseCommandLine(argv: string[]): { command: string | undefined; positionals: string[]; flags: Record<string, unknown> } {
  const { values, positionals } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) flags[camel(key)] = value;
  return { command: positionals[0], positionals: positionals.slice(1), flags };
}

/** A zod error as one line per problem, naming the flag. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const flag = issue.path.length ? `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ` : '';
      return `${flag}${issue.message}`;
    })
    .join('\n');
}
