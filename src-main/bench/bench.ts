/**
 * `npm run bench`: how fast the engine runs on this machine, measured against what the
 * machine's memory allows, in one run (about 25 s on 2 cores).
 *
 * Sections (--only picks some, comma-separated; default all):
 *   models    stories260K (the real tiny checkpoint) and a random-weight model with
 *             SmolLM2-135M's exact shapes in fp32, int8 and int4 (MatMulNBits): prefill and
 *             greedy decode tokens/s.
 *   plans     Interventions on the SmolLM2-135M-shaped model: decode time per step with no
 *             plan vs a heavy plan, and 4 variants batched vs 1, stepped side by side (plans.ts).
 *   formats   The same model in fp32, int8 and int4 loaded side by side and decoded in
 *             alternating rounds, with a memory read bandwidth probe (onnxruntime streaming
 *             1 GiB on as many intra-op threads as decode uses, probe.ts) just before and
 *             after each fp32 round (quantized-decode.ts): the quantized speed-ups over fp32, and fp32 decode's
 *             EFFECTIVE WEIGHT BANDWIDTH (weight bytes read per token x tokens/s) as a
 *             fraction of the probe's, round by round. A decode step reads every weight once
 *             and does ~2 flops per weight, so on CPU it is memory-bound: that fraction is
 *             how much of the machine the engine uses.
 *   quality   int8 and int4 on stories260K and llama2xs: per-position KL(f32 || q) of the
 *             next-token distribution over a 64-token text, and greedy top-1 agreement (quality.ts).
 * With --analyses: a full resid_pre patching sweep on the SmolLM2-135M-shaped model, batched
 * against one forward pass per patch, and the neuron atlas's neurons per second against the
 * bare unembedding product's throughput, measured in the same run (analyses.ts).
 *
 * Results go to stdout (a table, or one JSON object with --json); progress goes to stderr.
 *
 * Layering: unlike main.ts this is a diagnostic that measures the engine from the inside,
 * so its probe imports the runtime and graph builder directly (a hand-built graph, which
 * api.ts has no reason to offer), and it uses the test fixture that writes random models.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_ACCURACY_LEVEL, EXECUTION_PROVIDERS, Engine, weightOptions, weightOptionsLabel, type ExecutionProvider, type ModelHandle, type WeightOptions } from '../engine/api';
import { buildRandomModel } from '../test/fixtures/random-model';
import { benchPlans, PLAN_DECODE_TOKENS, PLAN_ROUNDS, type PlanResult } from './plans';
import { BandwidthProbe } from './probe';
import { measureQuality, QUALITY_TOKENS, type QualityResult } from './quality';
import { ALTERNATING_ROUNDS, ALTERNATING_TOKENS, alternatingDecode } from './quantized-decode';
import { median, type Spread } from './stats';
import { benchAnalyses, PATCH_BATCHED_TARGET, PATCH_PROMPT_TOKENS, type AtlasBench, type PatchingBench } from './analyses';

const REPO_ROOT = resolve(__dirname, '..', '..');
const STORIES_PATH = resolve(REPO_ROOT, '..', 'shared', 'models', 'stories260K-hf');
const LLAMA2XS_PATH = resolve(REPO_ROOT, '..', 'shared', 'models', 'llama2xs-312K', 'llama2xs.bin');
const SMOLLM_META = 'HuggingFaceTB__SmolLM2-135M-Instruct';

/** Per model: the prefill prompt and how many runs to take the best of; decode's prompt and length. */
interface Workload { prefillTokens: number; prefillRuns: number; decodePromptTokens: number; decodeTokens: number }
const STORIES_WORKLOAD: Workload = { prefillTokens: 64, prefillRuns: 5, decodePromptTokens: 64, decodeTokens: 128 };
const SMOLLM_WORKLOAD: Workload = { prefillTokens: 128, prefillRuns: 3, decodePromptTokens: 16, decodeTokens: 64 };

interface ProbeResult { op: string; bytes: number; runsGBps: number[]; bestGBps: number; medianGBps: number }
interface ModelResult {
  name: string;
  layers: number;
  dModel: number;
  /** Bytes of weights one decode step reads: every graph weight except the embedding table and rope tables. */
  weightBytesPerToken: number;
  prefill: { tokens: number; bestMs: number; tokensPerSecond: number };
  decode: { promptTokens: number; tokens: number; totalMs: number; medianMs: number; tokensPerSecond: number; medianTokensPerSecond: number };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const gbps = (bytes: number, ms: number): number => bytes / (ms / 1000) / 1e9;
const F32 = weightOptions('f32');

// ---------------------------------------------------------------------------
// Models

const manifestSchema = z.object({ tensors: z.record(z.string(), z.object({ length: z.number() })) });

/**
 * Weight bytes a decode step reads, from the manifest ensureWeightFile wrote beside the
 * compiled graph. Excluded: the embedding tables (one row is gathered per token) and the
 * rope tables (one row each). The tied unembedding IS read: the graph keeps a transposed
 * copy, unembed.weight. The cacheDir holds one model, in one or more formats: this reads
 * the manifest of `weights` (cache-dir.ts names each folder after its format).
 */
function weightBytesPerToken(cacheDir: string, weights: WeightOptions): number {
  const label = weightOptionsLabel(weights);
  const modelDir = readdirSync(join(cacheDir, 'models')).find((folder) => folder.endsWith(`-${label}`));
  if (!modelDir) throw new Error(`no ${label} weight file under ${cacheDir}`);
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(cacheDir, 'models', modelDir, 'manifest.json'), 'utf8')));
  const read = Object.entries(manifest.tensors).filter(([name]) => name !== 'embed.weight' && name !== 'pos_embed.weight' && !name.startsWith('rope.'));
  return read.reduce((sum, [, entry]) => sum + entry.length, 0);
}

/** Token ids spread over the vocabulary; content is irrelevant to speed, only the count is. */
const syntheticIds = (count: number, dVocab: number): number[] => Array.from({ length: count }, (_, i) => (i * 7919 + 13) % dVocab);

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

async function measurePrefill(model: ModelHandle, work: Workload): Promise<ModelResult['prefill']> {
  const ids = syntheticIds(work.prefillTokens, model.spec.dVocab);
  await model.forward(ids, 'last'); // warm-up: first-run allocations and page faults on the weights
  const runsMs: number[] = [];
  for (let i = 0; i < work.prefillRuns; i++) {
    const started = performance.now();
    await model.forward(ids, 'last');
    runsMs.push(performance.now() - started);
  }
  const bestMs = Math.min(...runsMs);
  return { tokens: ids.length, bestMs, tokensPerSecond: ids.length / (bestMs / 1000) };
}

/** Greedy decode through the step model, timing each one-token feed; the prompt's prefill is not timed. */
async function measureDecode(model: ModelHandle, work: Workload): Promise<ModelResult['decode']> {
  const step = await model.createStepModel();
  try {
    let logits = await step.feed(syntheticIds(work.decodePromptTokens, model.spec.dVocab));
    const perTokenMs: number[] = [];
    const started = performance.now();
    for (let i = 0; i < work.decodeTokens; i++) {
      const next = argmax(logits);
      const tokenStarted = performance.now();
      logits = await step.feed([next]);
      perTokenMs.push(performance.now() - tokenStarted);
    }
    const totalMs = performance.now() - started;
    const medianMs = median(perTokenMs);
    return { promptTokens: work.decodePromptTokens, tokens: work.decodeTokens, totalMs, medianMs, tokensPerSecond: work.decodeTokens / (totalMs / 1000), medianTokensPerSecond: 1000 / medianMs };
  } finally {
    await step.release();
  }
}

/** The engine settings a run measures: intra-op threads, whether idle ones spin, and the execution provider asked for. */
interface EngineChoice { threads: number; spinning: boolean; ep: ExecutionProvider }

/** Load a model in its own engine and cache folder, run `use` on it, and close the engine. */
async function withModel<T>(name: string, path: string, cacheDir: string, options: EngineChoice, weights: WeightOptions, use: (model: ModelHandle) => Promise<T>): Promise<T> {
  const engine = Engine.create({ cacheDir, threads: options.threads, spinning: options.spinning, executionProvider: options.ep });
  try {
    log(`${name}: loading${weights.format === 'f32' ? '' : ` (converting to ${weightOptionsLabel(weights)} on first load)`}`);
    const model = await engine.loadModel(path, { weights });
    if (model.fallbackReason) log(`${name}: ${model.fallbackReason}`);
    return await use(model);
  } finally {
    await engine.close();
  }
}

/** Prefill and decode rows of one model in one format. */
function benchModel(name: string, path: string, cacheDir: string, options: EngineChoice, work: Workload, weights = F32): Promise<{ result: ModelResult; provider: string }> {
  return withModel(name, path, cacheDir, options, weights, async (model) => {
    log(`${name}: prefill ${work.prefillTokens} tokens x ${work.prefillRuns}`);
    const prefill = await measurePrefill(model, work);
    log(`${name}: decode ${work.decodeTokens} tokens`);
    const decode = await measureDecode(model, work);
    const { nLayers: layers, dModel } = model.spec;
    return { result: { name, layers, dModel, weightBytesPerToken: weightBytesPerToken(cacheDir, weights), prefill, decode }, provider: model.provider };
  });
}

/** SmolLM2-135M's config.json as published, with seeded random fp32 weights. */
function buildSmolLmShapedModel(dir: string): string {
  const config = z
    .object({ num_hidden_layers: z.number(), hidden_size: z.number(), intermediate_size: z.number(), num_attention_heads: z.number(), num_key_value_heads: z.number(), max_position_embeddings: z.number() })
    .parse(JSON.parse(readFileSync(resolve(REPO_ROOT, '..', 'shared', 'hf-meta', SMOLLM_META, 'config.json'), 'utf8')));
  buildRandomModel(dir, {
    config: SMOLLM_META,
    layers: config.num_hidden_layers,
    dModel: config.hidden_size,
    dMlp: config.intermediate_size,
    nHeads: config.num_attention_heads,
    nKvHeads: config.num_key_value_heads,
    dHead: config.hidden_size / config.num_attention_heads,
    maxPositions: config.max_position_embeddings,
    seed: 135,
  });
  return dir;
}

// ---------------------------------------------------------------------------
// Report

/**
 * fp32 decode's weight traffic as bandwidth (bytes read per token / median ms per token of
 * a round) against the mean of the two probe runs bracketing that round: the fraction per
 * round, and its median and range over the rounds.
 */
interface DecodeBandwidth {
  model: string;
  weightBytesPerToken: number;
  rounds: { decodeGBps: number; probeGBps: number; fraction: number }[];
  fraction: { median: number; min: number; max: number };
  target: number;
}

interface Report {
  /** loadAverage: the 1-minute load average when the bench started (other processes) and when it ended (with its own threads). */
  machine: { cpu: string; logicalCores: number; loadAverage: { start: number; end: number } };
  onnxruntime: { version: string; provider: string; intraOpThreads: number; spinning: boolean };
  /** The probe's runs bracketing the fp32 alternating rounds (formats section). */
  probe: ProbeResult | null;
  models: ModelResult[];
  decodeBandwidth: DecodeBandwidth | null;
  plans: (PlanResult & { model: string }) | null;
  /** Median ms per decoded token of each format, in alternating rounds (quantized-decode.ts), and the speed-up over fp32. */
  quantizedDecode: { weights: string; medianMs: number; speedup: number; target: number | null }[];
  quality: QualityResult[];
  /** With --analyses only. */
  patching: PatchingBench | null;
  atlas: AtlasBench | null;
  seconds: number;
}

/** Decode speed-ups over fp32 the quantized formats aim for (issue 10). */
const QUANTIZED_TARGETS: Record<string, number> = { int8: 1.7, int4: 2.5 };
const INT8_AGREEMENT_TARGET = 0.95;

const DECODE_TARGET = 0.85; // of probe bandwidth (issue 10); a plain C decoder reaches ~0.94 on this machine

function decodeBandwidth(model: string, weightBytes: number, f32RoundMs: number[], probeGBps: [number, number][]): DecodeBandwidth {
  const rounds = f32RoundMs.map((ms, i) => {
    const decodeGBps = gbps(weightBytes, ms);
    const probe = (probeGBps[i][0] + probeGBps[i][1]) / 2;
    return { decodeGBps, probeGBps: probe, fraction: decodeGBps / probe };
  });
  const fractions = rounds.map((r) => r.fraction);
  return { model, weightBytesPerToken: weightBytes, rounds, fraction: { median: median(fractions), min: Math.min(...fractions), max: Math.max(...fractions) }, target: DECODE_TARGET };
}

const spreadText = (s: Spread, digits = 2): string => `${s.median.toFixed(digits)}x (interquartile ${s.p25.toFixed(digits)}-${s.p75.toFixed(digits)})`;

function formatReport(r: Report): string {
  const f = (x: number, digits = 1): string => x.toFixed(digits);
  const mb = (bytes: number): string => `${f(bytes / 1e6)} MB`;
  const row = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(32) : c.padStart(12))).join('');
  const section = (lines: string[] | null): string[] => (lines ? ['', ...lines] : []);
  const d = r.decodeBandwidth;
  return [
    `machine      ${r.machine.cpu}, ${r.machine.logicalCores} logical cores, load average ${f(r.machine.loadAverage.start)} at the start, ${f(r.machine.loadAverage.end)} at the end`,
    // The load at the start is other processes' (the bench's own threads raise it later).
    ...(r.machine.loadAverage.start > r.machine.logicalCores / 2
      ? [`             other processes kept about ${f(r.machine.loadAverage.start)} of the ${r.machine.logicalCores} cores busy: timings are bound by each one's share of the CPU, not by memory, and even side-by-side ratios carry that noise`]
      : []),
    `onnxruntime  onnxruntime-node ${r.onnxruntime.version}, provider ${r.onnxruntime.provider}, ${r.onnxruntime.intraOpThreads} intra-op threads, idle threads ${r.onnxruntime.spinning ? 'spin' : 'sleep'}`,
    ...section(
      r.models.length === 0
        ? null
        : [
            row(['model', 'weights/tok', 'prefill tok', 'tok/s best', 'decode tok', 'tok/s', 'ms/tok med', 'tok/s med']),
            ...r.models.map((m) =>
              row([`${m.name} (${m.layers}L, d=${m.dModel})`, mb(m.weightBytesPerToken), String(m.prefill.tokens), f(m.prefill.tokensPerSecond), `${m.decode.promptTokens}+${m.decode.tokens}`, f(m.decode.tokensPerSecond), f(m.decode.medianMs, 2), f(m.decode.medianTokensPerSecond)]),
            ),
            "  decode tok/s: decoded tokens over the loop's wall time (prompt prefill not timed); med: from the median per-token time",
          ],
    ),
    ...section(
      r.probe && d
        ? [
            `Memory read bandwidth (DRAM: 1 GiB is far beyond any CPU cache), ${r.probe.op}, timed inside session.run, ${r.onnxruntime.intraOpThreads} threads, just before and after each fp32 alternating round:`,
            `  best ${f(r.probe.bestGBps)} GB/s, median ${f(r.probe.medianGBps)} GB/s (runs: ${r.probe.runsGBps.map((x) => f(x)).join(', ')} GB/s)`,
            `Decode effective weight bandwidth, ${d.model} fp32 (${mb(d.weightBytesPerToken)} of weights read per token, embedding table excluded), per alternating round against the mean of the two probe runs around it:`,
            ...d.rounds.map((x, i) => `  round ${i + 1}: ${f(x.decodeGBps)} GB/s of ${f(x.probeGBps)} GB/s = ${f(100 * x.fraction, 0)}%`),
            `  median ${f(100 * d.fraction.median, 0)}% of the probe (range ${f(100 * d.fraction.min, 0)}-${f(100 * d.fraction.max, 0)}%), target >= ${f(100 * d.target, 0)}% (a plain C decoder reaches ~94%)`,
          ]
        : null,
    ),
    ...section(
      r.plans
        ? [
            `Interventions, ${r.plans.model}, ms per decode step, medians of ${r.plans.steps} steps (${PLAN_ROUNDS} rounds of ${PLAN_DECODE_TOKENS} tokens, the workloads stepped side by side, idle threads sleep):`,
            `  no plan ${f(r.plans.stepMs.noPlan, 2)} ms, heavy plan ${f(r.plans.stepMs.heavyPlan, 2)} ms: speed ${spreadText(r.plans.heavyPlanSpeed)} of no plan, step by step (target >= 0.90)`,
            `    heavy plan: add at every block's resid_post, set 16 neurons in 2 blocks, capture one block's resid_post`,
            `  1 variant ${f(r.plans.stepMs.oneVariant, 2)} ms, 4 variants batched ${f(r.plans.stepMs.fourVariants, 2)} ms: ${spreadText(r.plans.fourVariantsCost)} the time per step (target <= 1.60)`,
          ]
        : null,
    ),
    ...section(
      r.quantizedDecode.length === 0
        ? null
        : [
            `Quantized weights, ${d?.model ?? ''}, median ms per decoded token, ${ALTERNATING_ROUNDS} alternating rounds of ${ALTERNATING_TOKENS} tokens:`,
            ...r.quantizedDecode.map((q) => `  ${q.weights.padEnd(14)} ${f(q.medianMs, 2).padStart(8)} ms = ${f(1000 / q.medianMs).padStart(6)} tok/s = ${f(q.speedup, 2)}x fp32${q.target === null ? '' : ` (target >= ${f(q.target, 1)}x)`}`),
          ],
    ),
    ...section(
      r.quality.length === 0
        ? null
        : [
            `Quality against fp32, ${QUALITY_TOKENS}-token text, next-token distribution at every position:`,
            ...r.quality.map((q) => `  ${`${q.model} ${q.weights}`.padEnd(26)} KL mean ${q.meanKl.toExponential(2)} max ${q.maxKl.toExponential(2)} nats, top-1 agreement ${f(100 * q.top1Agreement, 1)}% of ${q.positions}${q.weights.startsWith('int8') ? ` (target >= ${f(100 * INT8_AGREEMENT_TARGET, 0)}%)` : ''}`),
          ],
    ),
    ...section(
      r.patching
        ? [
            `Activation patching, SmolLM2-135M-shaped, full resid_pre sweep of a ${PATCH_PROMPT_TOKENS}-token prompt (${r.patching.cells} patches):`,
            `  batched ${r.patching.batched.batchSize} per pass: ${r.patching.batched.forwardPasses} forward passes running ${r.patching.batched.blockPositions} block-positions over their rows, ${f(r.patching.batched.ms, 0)} ms = ${f(r.patching.batched.msPerCell, 1)} ms per patch`,
            `  one full forward pass of the prompt per patch (first ${r.patching.unbatched.cells} patches, ${r.patching.unbatched.blockPositions} block-positions): ${f(r.patching.unbatched.msPerCell, 1)} ms per patch`,
            `  batched is ${f(r.patching.speedup, 2)}x faster per patch (target >= ${PATCH_BATCHED_TARGET}x)`,
          ]
        : null,
    ),
    ...section(
      r.atlas
        ? [
            `Neuron atlas, SmolLM2-135M-shaped, layer ${r.atlas.layer}: up, gate and down directions through the final norm and the head, top 10 each:`,
            `  ${r.atlas.neurons} directions in ${f(r.atlas.seconds, 2)} s = ${f(r.atlas.neuronsPerSecond, 0)} neurons/s`,
            `  bare product [${r.atlas.matmul.rows}, d_model] x [d_model, d_vocab]: ${f(r.atlas.matmul.medianMs, 1)} ms median = ${f(r.atlas.matmul.gflops, 1)} GFLOP/s = ${f(r.atlas.matmul.rowsPerSecond, 0)} rows/s`,
            `  the atlas runs at ${f(100 * r.atlas.fractionOfMatmul, 0)}% of the bare product's rate`,
            `  ranked by z-score: ${f(r.atlas.zscore.seconds, 2)} s = ${f(r.atlas.zscore.neuronsPerSecond, 0)} neurons/s, ${f(r.atlas.zscore.costOverLogit, 2)}x the time of the logit ranking (the mean and covariance passes included)`,
          ]
        : null,
    ),
    '',
    `${f(r.seconds, 0)} s in all`,
    '',
  ].join('\n');
}

const SECTIONS = ['models', 'plans', 'formats', 'quality'] as const;
type Section = (typeof SECTIONS)[number];

const benchArgsSchema = z.object({
  json: z.boolean(),
  analyses: z.boolean(),
  only: z
    .string()
    .transform((list) => list.split(',').map((name) => name.trim()))
    .pipe(z.array(z.enum(SECTIONS, { message: `--only takes sections among ${SECTIONS.join(', ')}` })).min(1))
    .optional(),
  threads: z.coerce.number().int().positive({ message: '--threads must be a positive integer' }).optional(),
  spinning: z.enum(['on', 'off'], { message: '--spinning must be on or off' }),
  ep: z.enum(EXECUTION_PROVIDERS, { message: `--ep must be one of ${EXECUTION_PROVIDERS.join(', ')}` }),
  'accuracy-level': z.coerce.number().pipe(z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4)], { message: '--accuracy-level must be 0 to 4' })).optional(),
});

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, analyses: { type: 'boolean', default: false }, only: { type: 'string' }, threads: { type: 'string' }, spinning: { type: 'string', default: 'on' }, ep: { type: 'string', default: 'cpu' }, 'accuracy-level': { type: 'string' }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write(`Usage: npm run bench -- [--json] [--only ${SECTIONS.join(',')}] [--analyses] [--threads N] [--spinning on|off] [--ep ${EXECUTION_PROVIDERS.join('|')}] [--accuracy-level 0-4]   (default: every section, all logical cores, spinning on as the engine's default, cpu, MatMulNBits accuracy level ${DEFAULT_ACCURACY_LEVEL})\n`);
    return 0;
  }
  const parsed = benchArgsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`error: ${parsed.error.issues.map((i) => i.message).join('; ')}\n`);
    return 2;
  }
  const choice: EngineChoice = { threads: parsed.data.threads ?? availableParallelism(), spinning: parsed.data.spinning === 'on', ep: parsed.data.ep };
  const threads = choice.threads;
  const runs = new Set<Section>(parsed.data.only ?? SECTIONS);

  const started = performance.now();
  const loadAtStart = loadavg()[0];
  const tmp = mkdtempSync(join(tmpdir(), 'tiller-bench-'));
  try {
    const models: ModelResult[] = [];
    let provider = 'cpu';
    const smolName = 'SmolLM2-135M-shaped';
    const smolCache = join(tmp, 'cache-smollm');
    const overrides = parsed.data['accuracy-level'] === undefined ? {} : { accuracyLevel: parsed.data['accuracy-level'] };
    const quantizedFormats = (['int8', 'int4'] as const).map((format) => weightOptions(format, overrides));
    if (runs.has('models')) models.push((await benchModel('stories260K', STORIES_PATH, join(tmp, 'cache-stories'), choice, STORIES_WORKLOAD)).result);
    const smolPath = runs.has('models') || runs.has('plans') || runs.has('formats') || parsed.data.analyses ? (log(`${smolName}: writing random fp32 weights`), buildSmolLmShapedModel(join(tmp, 'smollm2-135m-shaped'))) : '';
    if (runs.has('models')) {
      const smol = await benchModel(smolName, smolPath, smolCache, choice, SMOLLM_WORKLOAD);
      models.push(smol.result);
      provider = smol.provider;
      for (const weights of quantizedFormats) models.push((await benchModel(`${smolName} ${weightOptionsLabel(weights)}`, smolPath, join(tmp, `cache-smollm-${weights.format}`), choice, SMOLLM_WORKLOAD, weights)).result);
    }
    // Stepped side by side, two sessions alternate every few milliseconds: spinning idle
    // threads of one session's pool would take the cores from the other's step (measured
    // on an idle machine: 38-40 ms per step instead of 24, and per-step ratios spread over
    // 0.68-1.41 instead of 0.94-0.99), so these run with sleeping threads, whatever --spinning says.
    const plans = runs.has('plans')
      ? await withModel(smolName, smolPath, smolCache, { ...choice, spinning: false }, F32, (model) => {
          log(`${smolName}: decode steps with plans and batched variants, ${PLAN_ROUNDS} rounds, side by side`);
          return benchPlans(model);
        })
      : null;
    let probe: ProbeResult | null = null;
    let bandwidth: DecodeBandwidth | null = null;
    let quantizedDecode: Report['quantizedDecode'] = [];
    if (runs.has('formats')) {
      const prober = await BandwidthProbe.open(choice, tmp);
      try {
        const alternating = await alternatingDecode(smolPath, smolCache, choice, [F32, ...quantizedFormats], prober, log);
        const runsGBps = alternating.probeGBps.flat();
        probe = { op: prober.op, bytes: prober.bytes, runsGBps, bestGBps: Math.max(...runsGBps), medianGBps: median(runsGBps) };
        const [f32] = alternating.formats;
        bandwidth = decodeBandwidth(smolName, weightBytesPerToken(smolCache, F32), f32.roundMs, alternating.probeGBps);
        quantizedDecode = alternating.formats.map((q) => ({ weights: q.weights, medianMs: q.medianMs, speedup: f32.medianMs / q.medianMs, target: QUANTIZED_TARGETS[q.weights.split('-')[0]] ?? null }));
      } finally {
        await prober.close();
      }
    }
    if (parsed.data.analyses) log(`${smolName}: patching sweep, batched and one pass per patch; neuron atlas of one layer`);
    const analyses = parsed.data.analyses ? await benchAnalyses(smolPath, smolCache, choice) : null;
    const quality: QualityResult[] = [];
    if (runs.has('quality')) {
      log('quality: stories260K and llama2xs, fp32 vs int8 and int4');
      quality.push(...(await measureQuality('stories260K', STORIES_PATH, join(tmp, 'cache-quality-stories'), threads, overrides)));
      quality.push(...(await measureQuality('llama2xs', LLAMA2XS_PATH, join(tmp, 'cache-quality-llama2xs'), threads, overrides)));
    }
    // The installed binding's version, read from its package.json: only engine/runtime imports onnxruntime-node.
    const ortPackage = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')));
    const report: Report = {
      machine: { cpu: cpus()[0]?.model ?? 'unknown', logicalCores: cpus().length, loadAverage: { start: loadAtStart, end: loadavg()[0] } },
      onnxruntime: { version: ortPackage.version, provider, intraOpThreads: threads, spinning: choice.spinning },
      probe,
      models,
      decodeBandwidth: bandwidth,
      plans: plans && { model: smolName, ...plans },
      quantizedDecode,
      quality,
      patching: analyses?.patching ?? null,
      atlas: analyses?.atlas ?? null,
      seconds: (performance.now() - started) / 1000,
    };
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
