/**
 * Plans compiled into graphs. One graph per plan structure (planStructureKey): plan
 * values (vectors, scales, position masks) are graph inputs, so a new value reuses the
 * compiled session. Sessions are cached, bounded, and share the model's weight file.
 */
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { EngineError } from './errors';
import { encodeModel } from './graph/onnx-proto';
import { buildLlamaGraph } from './graph/llama';
import { captureOutput, type TapSpec } from './graph/taps';
import type { WeightManifest } from './graph/weights-file';
import { hookInfo } from './hooks/names';
import { planStructureKey, type Plan } from './hooks/plan';
import { positionMask, selectedIndices, type RunPositions } from './hooks/positions';
import type { ModelSpec } from './model/spec';
import type { ExecutionProvider } from './runtime/protocol';
import type { Runtime, Session } from './runtime/runtime';
import { float32, type HostTensor, type TensorMap } from './runtime/tensor';
import { writeAtomically } from './write-atomically';

/** Ops the graph compiles today; the others are accepted by the schema but refused here by name. */
const COMPILED_OPS = new Set(['add']);
const MAX_CACHED_SESSIONS = 8;

export interface CaptureResult {
  /** TransformerLens dim names, e.g. ['pos', 'd_model'] or ['head', 'q_pos', 'k_pos']. */
  dims: string[];
  shape: number[];
  /** Absolute positions of the captured rows (query positions for attention patterns). */
  positions: number[];
  data: Float32Array;
}

function tapSpecFor(spec: ModelSpec, plan: Plan): TapSpec {
  const adds: TapSpec['adds'] = [];
  plan.interventions.forEach((intervention, index) => {
    if (!COMPILED_OPS.has(intervention.op)) {
      throw new EngineError('bad_plan', `interventions[${index}]: op "${intervention.op}" is not supported by this engine yet (supported: ${[...COMPILED_OPS].join(', ')})`);
    }
    if (intervention.op !== 'add') return;
    const info = hookInfo(spec, intervention.hook);
    if (info.indexUnit !== 'dim') {
      throw new EngineError('bad_plan', `interventions[${index}]: add is supported on residual-width hooks (d_model), not ${intervention.hook}`);
    }
    adds.push({ hook: intervention.hook, prefix: `intervention.${index}`, width: intervention.vector.length });
  });
  return { captures: [...new Set(plan.captures.map((c) => c.hook))], adds };
}

/** Graph inputs that carry the plan's values for one run. */
export function planFeeds(plan: Plan, run: RunPositions): TensorMap {
  const feeds: TensorMap = {};
  plan.interventions.forEach((intervention, index) => {
    if (intervention.op !== 'add') return;
    const prefix = `intervention.${index}`;
    feeds[`${prefix}.vector`] = float32([intervention.vector.length], Float32Array.from(intervention.vector));
    feeds[`${prefix}.scale`] = float32([], Float32Array.of(intervention.scale));
    feeds[`${prefix}.mask`] = float32([1, run.count, 1], positionMask(intervention.positions, run));
  });
  return feeds;
}

export class PlanSessions {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly spec: ModelSpec,
    private readonly manifest: WeightManifest,
    private readonly dir: string,
    private readonly executionProvider: ExecutionProvider,
  ) {}

  /** The compiled session for this plan's structure, compiling it on first use. */
  session(plan: Plan): Promise<Session> {
    const key = planStructureKey(plan);
    const cached = this.sessions.get(key);
    if (cached) {
      this.sessions.delete(key); // re-insert: Map order is the least-recently-used order
      this.sessions.set(key, cached);
      return cached;
    }
    const tapSpec = tapSpecFor(this.spec, plan);
    const graphPath = join(this.dir, `plan-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.onnx`);
    writeAtomically(graphPath, encodeModel(buildLlamaGraph(this.spec, this.manifest, tapSpec)));
    const created = this.runtime.createSession(graphPath, this.executionProvider);
    this.sessions.set(key, created);
    created.catch(() => this.sessions.delete(key));
    if (this.sessions.size > MAX_CACHED_SESSIONS) {
      const [oldestKey, oldest] = this.sessions.entries().next().value as [string, Promise<Session>];
      this.sessions.delete(oldestKey);
      void oldest.then((s) => s.release()).catch(() => undefined);
    }
    return created;
  }

  async releaseAll(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.then((x) => x.release()).catch(() => undefined)));
  }
}

/** Fetch names for a plan's captures. */
export function captureFetches(plan: Plan): string[] {
  return [...new Set(plan.captures.map((c) => captureOutput(c.hook)))];
}

/**
 * A captured graph output as TransformerLens lays it out, keeping the selected positions.
 * Graph layouts: residual-like [1, seq, width]; heads [1, seq, heads * d_head];
 * pattern [1, n_kv_heads, group, seq, key_pos] (head = kv_head * group + g).
 */
export function shapeCapture(spec: ModelSpec, hook: string, tensor: HostTensor, positions: Plan['captures'][number]['positions'], run: RunPositions): CaptureResult {
  const info = hookInfo(spec, hook);
  const data = tensor.data as Float32Array;
  const rows = selectedIndices(positions, run);
  const absolute = rows.map((i) => run.start + i);
  if (info.site === 'attn.hook_pattern') {
    const keyPositions = tensor.dims[4];
    const out = new Float32Array(spec.nHeads * rows.length * keyPositions);
    for (let head = 0; head < spec.nHeads; head++) {
      rows.forEach((row, r) => {
        const from = (head * run.count + row) * keyPositions;
        out.set(data.subarray(from, from + keyPositions), (head * rows.length + r) * keyPositions);
      });
    }
    return { dims: info.dims, shape: [spec.nHeads, rows.length, keyPositions], positions: absolute, data: out };
  }
  const width = tensor.dims[tensor.dims.length - 1];
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, r) => out.set(data.subarray(row * width, (row + 1) * width), r * width));
  const shape = info.shape.map((d) => (d === 'pos' ? rows.length : d));
  return { dims: info.dims, shape, positions: absolute, data: out };
}
