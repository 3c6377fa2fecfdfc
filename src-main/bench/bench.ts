/**
 * `npm run bench`: how fast the engine runs on this machine, measured against what the
 * machine's memory allows, in one run (about 25 s on 2 cores).
 *
 *   1. Memory read bandwidth: onnxruntime streaming a 1 GiB tensor on every intra-op thread.
 *   2. stories260K (the real tiny checkpoint): prefill and greedy decode tokens/s.
 *   3. A random-weight fp32 model with SmolLM2-135M's exact shapes: prefill, decode, and the
 *      EFFECTIVE WEIGHT BANDWIDTH of decoding (weight bytes read per token x tokens/s) as a
 *      fraction of (1). A decode step reads every weight once and does ~2 flops per weight,
 *      so on CPU it is memory-bound: that fraction is how much of the machine the engine uses.
 *   4. Interventions on the same model: decode time per step with no plan vs a heavy plan
 *      (add at every block, set 16 neurons in 2 blocks, capture one block's resid_post), and
 *      4 variants batched vs 1 (the baseline and three steered variants in one forward pass).
 *   5. The same model with int8 and int4 weights (MatMulNBits): prefill and decode rows, and
 *      the decode speed-up over fp32 from the three loaded side by side, decoded in
 *      alternating rounds (quantized-decode.ts).
 *   6. Quality of int8 and int4 on stories260K and llama2xs: per-position KL(f32 || q) of the
 *      next-token distribution over a 64-token text, and greedy top-1 agreement (quality.ts).
 *
 *   7. With --analyses: a full resid_pre patching sweep on the SmolLM2-135M-shaped model,
 *      batched against one forward pass per patch, and the neuron atlas's neurons per second
 *      against the bare unembedding product's throughput (analyses.ts).
 *
 * Results go to stdout (a table, or one JSON object with --json); progress goes to stderr.
 *
 * Layering: unlike main.ts this is a diagnostic that measures the engine from the inside,
 * so it imports the runtime and graph builder directly (the probe is a hand-built graph,
 * which api.ts has no reason to offer) and the test fixture that writes random models.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_ACCURACY_LEVEL, EXECUTION_PROVIDERS, Engine, generationSettingsSchema, weightOptions, weightOptionsLabel, type ExecutionProvider, type ModelHandle, type VariantRun, type WeightOptions } from '../engine/api';
import { GraphBuilder } from '../engine/graph/builder';
import { encodeModel } from '../engine/graph/onnx-proto';
import { Runtime } from '../engine/runtime/runtime';
import { buildRandomModel } from '../test/fixtures/random-model';
import { measureQuality, QUALITY_TOKENS, type QualityResult } from './quality';
import { ALTERNATING_ROUNDS, ALTERNATING_TOKENS, alternatingDecode } from './quantized-decode';
import { benchAnalyses, PATCH_BATCHED_TARGET, PATCH_PROMPT_TOKENS, type AtlasBench, type PatchingBench } from './analyses';

const REPO_ROOT = resolve(__dirname, '..', '..');
const STORIES_PATH = resolve(REPO_ROOT, '..', 'shared', 'models', 'stories260K-hf');
const LLAMA2XS_PATH = resolve(REPO_ROOT, '..', 'shared', 'models', 'llama2xs-312K', 'llama2xs.bin');
const SMOLLM_META = 'HuggingFaceTB__SmolLM2-135M-Instruct';

// The probe reads 256Mi float32 = 1 GiB, far beyond the last-level cache (32 MiB here), so
// every run streams from DRAM. It sums each of 64 rows (16 MiB each) rather than the whole
// tensor: onnxruntime 1.30 reduces a whole tensor to one scalar on a single thread whatever
// intraOpNumThreads says (measured CPU time / wall time: 1.00 with 2 threads), while a
// per-row reduction spreads the rows over the pool (1.9). ReduceMax streams as fast as
// ReduceSum. MatMul is no probe: [1,N]x[N,1] runs at 1.7 GB/s, and [1,16384]x[16384,16384]
// measures the GEMV kernel (22-27 GB/s), not the memory.
const PROBE_ROWS = 64;
const PROBE_COLS = (256 * 1024 * 1024) / PROBE_ROWS;
const PROBE_RUNS = 5; // after one warm-up

/** Per model: the prefill prompt and how many runs to take the best of; decode's prompt and length. */
interface Workload { prefillTokens: number; prefillRuns: number; decodePromptTokens: number; decodeTokens: number }
const STORIES_WORKLOAD: Workload = { prefillTokens: 64, prefillRuns: 5, decodePromptTokens: 64, decodeTokens: 128 };
const SMOLLM_WORKLOAD: Workload = { prefillTokens: 128, prefillRuns: 3, decodePromptTokens: 16, decodeTokens: 64 };

interface ProbeResult { op: string; bytes: number; runsMs: number[]; bestGBps: number; medianGBps: number }
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
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const gbps = (bytes: number, ms: number): number => bytes / (ms / 1000) / 1e9;

// ---------------------------------------------------------------------------
// 1. Memory read bandwidth probe

async function probeBandwidth(threads: number, dir: string): Promise<ProbeResult> {
  const g = new GraphBuilder('bandwidth-probe');
  const x = g.input('x', 'float32', [PROBE_ROWS, PROBE_COLS]);
  const columns = g.constant('int64', [1], [1], 'axes');
  g.output(g.op1('ReduceSum', [x, columns], { attrs: { keepdims: 0 }, output: 'row_sums' }), 'float32', [PROBE_ROWS]);
  const path = join(dir, 'probe.onnx');
  writeFileSync(path, encodeModel(g.toModel()));
  // A plain ArrayBuffer (onnxruntime rejects SharedArrayBuffer feeds), filled with non-zero
  // values so every page is resident. postMessage copies it into the worker on each call;
  // the worker's runMs times session.run alone, so that copy is not counted.
  const data = new Float32Array(PROBE_ROWS * PROBE_COLS).fill(1);
  const runtime = new Runtime({ threads });
  try {
    const session = await runtime.createSession(path);
    const feeds = { x: { dtype: 'float32' as const, dims: [PROBE_ROWS, PROBE_COLS], data } };
    const runsMs: number[] = [];
    for (let i = 0; i <= PROBE_RUNS; i++) {
      const { outputs, runMs } = await session.run(feeds, ['row_sums']);
      if (outputs.row_sums.data[0] !== PROBE_COLS) throw new Error(`bandwidth probe summed to ${outputs.row_sums.data[0]}, expected ${PROBE_COLS}`);
      if (i > 0) runsMs.push(runMs);
    }
    const bytes = data.byteLength;
    return { op: `ReduceSum over [${PROBE_ROWS}, ${PROBE_COLS}] float32, axis 1`, bytes, runsMs, bestGBps: gbps(bytes, Math.min(...runsMs)), medianGBps: gbps(bytes, median(runsMs)) };
  } finally {
    await runtime.close();
  }
}

// ---------------------------------------------------------------------------
// 2, 3. Models

const manifestSchema = z.object({ tensors: z.record(z.string(), z.object({ length: z.number() })) });

/**
 * Weight bytes a decode step reads, from the manifest ensureWeightFile wrote beside the
 * compiled graph. Excluded: the embedding tables (one row is gathered per token) and the
 * rope tables (one row each). The tied unembedding IS read: the graph keeps a transposed
 * copy, unembed.weight. The engine's cacheDir holds exactly one model, so one manifest.
 */
function weightBytesPerToken(cacheDir: string): number {
  const [modelDir] = readdirSync(join(cacheDir, 'models'));
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

/** The engine settings a run measures: intra-op threads, and the execution provider asked for. */
interface EngineChoice { threads: number; ep: ExecutionProvider }

/** Load a model in its own engine and cache folder, measure it, and close the engine. */
async function benchModel(
  name: string,
  path: string,
  cacheDir: string,
  options: EngineChoice,
  work: Workload,
  withPlans = false,
  weights = weightOptions('f32'),
): Promise<{ result: ModelResult; provider: string; plans: PlanResult | null }> {
  const engine = Engine.create({ cacheDir, threads: options.threads, executionProvider: options.ep });
  try {
    log(`${name}: loading${weights.format === 'f32' ? '' : ` (converting to ${weightOptionsLabel(weights)} on first load)`}`);
    const model = await engine.loadModel(path, { weights });
    if (model.fallbackReason) log(`${name}: ${model.fallbackReason}`);
    log(`${name}: prefill ${work.prefillTokens} tokens x ${work.prefillRuns}`);
    const prefill = await measurePrefill(model, work);
    log(`${name}: decode ${work.decodeTokens} tokens`);
    const decode = await measureDecode(model, work);
    const { nLayers: layers, dModel } = model.spec;
    const weightBytes = weightBytesPerToken(cacheDir); // before plan graphs join the cache folder
    if (withPlans) log(`${name}: decode with plans and batched variants, ${PLAN_ROUNDS} rounds`);
    const plans = withPlans ? await benchPlans(model) : null;
    return { result: { name, layers, dModel, weightBytesPerToken: weightBytes, prefill, decode }, provider: model.provider, plans };
  } finally {
    await engine.close();
  }
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
// 4. Interventions

const PLAN_DECODE_TOKENS = 32;
const PLAN_ROUNDS = 3; // the workloads alternate, round after round, so machine noise hits all alike

interface PlanResult {
  /** Median milliseconds per decode step (one forward pass for every variant), per workload. */
  stepMs: { noPlan: number; heavyPlan: number; oneVariant: number; fourVariants: number };
  heavyPlanSpeed: number; // noPlan / heavyPlan step time: >= 0.9 is the target
  fourVariantsCost: number; // fourVariants / oneVariant step time: <= 1.6 is the target
}

/** Median time between one variant's consecutive tokens: one decode step of the whole batch. */
async function stepMs(model: ModelHandle, variants: VariantRun[]): Promise<number> {
  const settings = generationSettingsSchema.parse({ maxNewTokens: PLAN_DECODE_TOKENS, stopAtEos: false });
  const prompt = syntheticIds(16, model.spec.dVocab);
  const times: number[] = [];
  for await (const event of model.generateVariants(prompt, settings, variants)) if (event.variant === 0) times.push(performance.now());
  return median(times.slice(1).map((t, i) => t - times[i]));
}

async function benchPlans(model: ModelHandle): Promise<PlanResult> {
  const { nLayers, dModel } = model.spec;
  const vector = (seed: number) => Array.from({ length: dModel }, (_, i) => 0.01 * Math.sin(seed + i));
  const steer = (layer: number, seed: number) => ({ op: 'add', hook: `blocks.${layer}.hook_resid_post`, vector: vector(seed), scale: 4, positions: 'all' });
  const clamp = (layer: number) => ({ op: 'set', hook: `blocks.${layer}.mlp.hook_post`, indices: Array.from({ length: 16 }, (_, i) => i * 37), values: [2], positions: 'all' });
  const heavy: VariantRun = {
    plan: {
      captures: [{ hook: `blocks.${nLayers >> 1}.hook_resid_post`, positions: 'last' }],
      interventions: [...Array.from({ length: nLayers }, (_, layer) => steer(layer, layer)), clamp(3), clamp(nLayers - 4)],
    },
  };
  const four: VariantRun[] = [{}, ...[1, 2, 3].map((seed) => ({ plan: { interventions: [steer(nLayers >> 1, seed)] } }))];
  const workloads = { noPlan: [{}], heavyPlan: [heavy], oneVariant: [four[1]], fourVariants: four };
  const samples: Record<keyof typeof workloads, number[]> = { noPlan: [], heavyPlan: [], oneVariant: [], fourVariants: [] };
  for (const [name, variants] of Object.entries(workloads)) await stepMs(model, variants); // compile and warm each graph
  for (let round = 0; round < PLAN_ROUNDS; round++) {
    for (const [name, variants] of Object.entries(workloads)) samples[name as keyof typeof workloads].push(await stepMs(model, variants));
  }
  const step = { noPlan: median(samples.noPlan), heavyPlan: median(samples.heavyPlan), oneVariant: median(samples.oneVariant), fourVariants: median(samples.fourVariants) };
  return { stepMs: step, heavyPlanSpeed: step.noPlan / step.heavyPlan, fourVariantsCost: step.fourVariants / step.oneVariant };
}

// ---------------------------------------------------------------------------
// Report

/** Decode's weight traffic as bandwidth: bytes read per token x tokens/s, against the probe. */
interface DecodeBandwidth { tokensPerSecond: number; GBps: number; fractionOfProbe: number }

interface Report {
  machine: { cpu: string; logicalCores: number };
  onnxruntime: { version: string; provider: string; intraOpThreads: number };
  probe: ProbeResult;
  models: ModelResult[];
  decodeBandwidth: { model: string; weightBytesPerToken: number; probeGBps: number; overall: DecodeBandwidth; median: DecodeBandwidth; target: number };
  plans: PlanResult & { model: string };
  /** Decode tokens/s of each quantized format over fp32's, same model and run. */
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

function decodeBandwidth(weightBytes: number, tokensPerSecond: number, probeGBps: number): DecodeBandwidth {
  const GBps = (weightBytes * tokensPerSecond) / 1e9;
  return { tokensPerSecond, GBps, fractionOfProbe: GBps / probeGBps };
}

function formatReport(r: Report): string {
  const f = (x: number, digits = 1): string => x.toFixed(digits);
  const mb = (bytes: number): string => `${f(bytes / 1e6)} MB`;
  const row = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(32) : c.padStart(12))).join('');
  const d = r.decodeBandwidth;
  const bandwidthLine = (label: string, b: DecodeBandwidth): string =>
    `  ${label} ${f(b.tokensPerSecond).padStart(6)} tok/s x ${mb(d.weightBytesPerToken)} = ${f(b.GBps)} GB/s = ${f(100 * b.fractionOfProbe, 0)}% of the probe's ${f(d.probeGBps)} GB/s`;
  return [
    `machine      ${r.machine.cpu}, ${r.machine.logicalCores} logical cores`,
    `onnxruntime  onnxruntime-node ${r.onnxruntime.version}, provider ${r.onnxruntime.provider}, ${r.onnxruntime.intraOpThreads} intra-op threads`,
    '',
    `Memory read bandwidth (DRAM: 1 GiB is far beyond any CPU cache), ${r.probe.op}, timed inside session.run:`,
    `  best ${f(r.probe.bestGBps)} GB/s, median ${f(r.probe.medianGBps)} GB/s (runs: ${r.probe.runsMs.map((ms) => f(ms, 0)).join(', ')} ms)`,
    '',
    row(['model', 'weights/tok', 'prefill tok', 'tok/s best', 'decode tok', 'tok/s', 'ms/tok med', 'tok/s med']),
    ...r.models.map((m) =>
      row([`${m.name} (${m.layers}L, d=${m.dModel})`, mb(m.weightBytesPerToken), String(m.prefill.tokens), f(m.prefill.tokensPerSecond), `${m.decode.promptTokens}+${m.decode.tokens}`, f(m.decode.tokensPerSecond), f(m.decode.medianMs, 2), f(m.decode.medianTokensPerSecond)]),
    ),
    '  decode tok/s: decoded tokens over the loop\'s wall time (prompt prefill not timed); med: from the median per-token time',
    '',
    `Decode effective weight bandwidth, ${d.model} (fp32 weights read per token, embedding table excluded):`,
    bandwidthLine('overall', d.overall),
    bandwidthLine('median ', d.median),
    `  target >= ${f(100 * d.target, 0)}% of the probe (a plain C decoder reaches ~94%)`,
    '',
    `Interventions, ${r.plans.model}, median ms per decode step (${PLAN_DECODE_TOKENS} tokens, ${PLAN_ROUNDS} alternating rounds):`,
    `  no plan ${f(r.plans.stepMs.noPlan, 2)} ms, heavy plan ${f(r.plans.stepMs.heavyPlan, 2)} ms: speed ${f(r.plans.heavyPlanSpeed, 2)}x of no plan (target >= 0.90)`,
    `    heavy plan: add at every block's resid_post, set 16 neurons in 2 blocks, capture one block's resid_post`,
    `  1 variant ${f(r.plans.stepMs.oneVariant, 2)} ms, 4 variants batched ${f(r.plans.stepMs.fourVariants, 2)} ms: ${f(r.plans.fourVariantsCost, 2)}x the time per step (target <= 1.60)`,
    '',
    `Quantized weights, ${d.model}, median ms per decoded token, ${ALTERNATING_ROUNDS} alternating rounds of ${ALTERNATING_TOKENS} tokens:`,
    ...r.quantizedDecode.map((q) => `  ${q.weights.padEnd(14)} ${f(q.medianMs, 2).padStart(8)} ms = ${f(1000 / q.medianMs).padStart(6)} tok/s = ${f(q.speedup, 2)}x fp32${q.target === null ? '' : ` (target >= ${f(q.target, 1)}x)`}`),
    '',
    `Quality against fp32, ${QUALITY_TOKENS}-token text, next-token distribution at every position:`,
    ...r.quality.map((q) => `  ${`${q.model} ${q.weights}`.padEnd(26)} KL mean ${q.meanKl.toExponential(2)} max ${q.maxKl.toExponential(2)} nats, top-1 agreement ${f(100 * q.top1Agreement, 1)}% of ${q.positions}${q.weights.startsWith('int8') ? ` (target >= ${f(100 * INT8_AGREEMENT_TARGET, 0)}%)` : ''}`),
    ...(r.patching
      ? [
          '',
          `Activation patching, ${d.model}, full resid_pre sweep of a ${PATCH_PROMPT_TOKENS}-token prompt (${r.patching.cells} patches):`,
          `  batched ${r.patching.batched.batchSize} per pass: ${r.patching.batched.forwardPasses} forward passes, ${f(r.patching.batched.ms, 0)} ms = ${f(r.patching.batched.msPerCell, 1)} ms per patch`,
          `  one forward pass per patch (first ${r.patching.unbatched.cells} patches): ${f(r.patching.unbatched.msPerCell, 1)} ms per patch`,
          `  batched is ${f(r.patching.speedup, 2)}x faster per patch (target >= ${PATCH_BATCHED_TARGET}x)`,
        ]
      : []),
    ...(r.atlas
      ? [
          '',
          `Neuron atlas, ${d.model}, layer ${r.atlas.layer}: up, gate and down directions through the final norm and the head, top 10 each:`,
          `  ${r.atlas.neurons} directions in ${f(r.atlas.seconds, 2)} s = ${f(r.atlas.neuronsPerSecond, 0)} neurons/s`,
          `  bare product [${r.atlas.matmul.rows}, d_model] x [d_model, d_vocab]: ${f(r.atlas.matmul.medianMs, 1)} ms median = ${f(r.atlas.matmul.gflops, 1)} GFLOP/s = ${f(r.atlas.matmul.rowsPerSecond, 0)} rows/s`,
          `  the atlas runs at ${f(100 * r.atlas.fractionOfMatmul, 0)}% of the bare product's rate`,
        ]
      : []),
    '',
    `${f(r.seconds, 0)} s in all`,
    '',
  ].join('\n');
}

const benchArgsSchema = z.object({
  json: z.boolean(),
  analyses: z.boolean(),
  threads: z.coerce.number().int().positive({ message: '--threads must be a positive integer' }).optional(),
  ep: z.enum(EXECUTION_PROVIDERS, { message: `--ep must be one of ${EXECUTION_PROVIDERS.join(', ')}` }),
  'accuracy-level': z.coerce.number().pipe(z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4)], { message: '--accuracy-level must be 0 to 4' })).optional(),
});

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, analyses: { type: 'boolean', default: false }, threads: { type: 'string' }, ep: { type: 'string', default: 'cpu' }, 'accuracy-level': { type: 'string' }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write(`Usage: npm run bench -- [--json] [--analyses] [--threads N] [--ep ${EXECUTION_PROVIDERS.join('|')}] [--accuracy-level 0-4]   (default: all logical cores, cpu, MatMulNBits accuracy level ${DEFAULT_ACCURACY_LEVEL})\n`);
    return 0;
  }
  const parsed = benchArgsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`error: ${parsed.error.issues.map((i) => i.message).join('; ')}\n`);
    return 2;
  }
  const choice: EngineChoice = { threads: parsed.data.threads ?? availableParallelism(), ep: parsed.data.ep };
  const threads = choice.threads;

  const started = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'tiller-bench-'));
  try {
    log(`probe: streaming 1 GiB x ${PROBE_RUNS + 1}`);
    const probe = await probeBandwidth(threads, tmp);
    const stories = await benchModel('stories260K', STORIES_PATH, join(tmp, 'cache-stories'), choice, STORIES_WORKLOAD);
    log('SmolLM2-135M-shaped: writing random fp32 weights');
    const smolPath = buildSmolLmShapedModel(join(tmp, 'smollm2-135m-shaped'));
    const smol = await benchModel('SmolLM2-135M-shaped', smolPath, join(tmp, 'cache-smollm'), choice, SMOLLM_WORKLOAD, true);
    const s = smol.result;
    const quantized: ModelResult[] = [];
    const overrides = parsed.data['accuracy-level'] === undefined ? {} : { accuracyLevel: parsed.data['accuracy-level'] };
    for (const format of ['int8', 'int4'] as const) {
      const weights: WeightOptions = weightOptions(format, overrides);
      const label = `SmolLM2-135M-shaped ${weightOptionsLabel(weights)}`;
      quantized.push((await benchModel(label, smolPath, join(tmp, `cache-smollm-${format}`), choice, SMOLLM_WORKLOAD, false, weights)).result);
    }
    const formats = [weightOptions('f32'), ...(['int8', 'int4'] as const).map((format) => weightOptions(format, overrides))];
    const alternating = await alternatingDecode(smolPath, join(tmp, 'cache-smollm'), threads, formats, log);
    if (parsed.data.analyses) log('SmolLM2-135M-shaped: patching sweep, batched and one pass per patch; neuron atlas of one layer');
    const analyses = parsed.data.analyses ? await benchAnalyses(smolPath, join(tmp, 'cache-smollm'), choice) : null;
    log('quality: stories260K and llama2xs, fp32 vs int8 and int4');
    const quality = [
      ...(await measureQuality('stories260K', STORIES_PATH, join(tmp, 'cache-quality-stories'), threads, overrides)),
      ...(await measureQuality('llama2xs', LLAMA2XS_PATH, join(tmp, 'cache-quality-llama2xs'), threads, overrides)),
    ];
    // The installed binding's version, read from its package.json: only engine/runtime imports onnxruntime-node.
    const ortPackage = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')));
    const report: Report = {
      machine: { cpu: cpus()[0]?.model ?? 'unknown', logicalCores: cpus().length },
      onnxruntime: { version: ortPackage.version, provider: smol.provider, intraOpThreads: threads },
      probe,
      models: [stories.result, s, ...quantized],
      decodeBandwidth: {
        model: s.name,
        weightBytesPerToken: s.weightBytesPerToken,
        probeGBps: probe.bestGBps,
        overall: decodeBandwidth(s.weightBytesPerToken, s.decode.tokensPerSecond, probe.bestGBps),
        median: decodeBandwidth(s.weightBytesPerToken, s.decode.medianTokensPerSecond, probe.bestGBps),
        target: DECODE_TARGET,
      },
      plans: { model: s.name, ...smol.plans! },
      quantizedDecode: alternating.map((q) => ({ ...q, speedup: alternating[0].medianMs / q.medianMs, target: QUANTIZED_TARGETS[q.weights.split('-')[0]] ?? null })),
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
