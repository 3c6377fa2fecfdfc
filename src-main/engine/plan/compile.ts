/**
 * Plans compiled into graphs. One graph per plan structure (planStructureKey) plus the
 * lens heads a decoding strategy asks for: plan values (vectors, indices, clamp values,
 * patched rows, deltas, position masks) are graph inputs (plan/feeds.ts), so a new value
 * reuses the compiled session, and plans of one structure run as rows of one batch.
 * Sessions are cached, bounded, and share the model's weight file.
 */
import { graphOutput } from '../graph-io';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors';
import { encodeModel } from '../graph/onnx-proto';
import { buildForwardGraph } from '../graph/forward';
import { NO_TAPS, type LensHead, type TapSpec } from '../graph/taps';
import type { ModelProtoData } from '../graph/onnx-proto';
import type { WeightManifest } from '../graph/weights-file';
import { hookName } from '../hooks/names';
import { planStructureKey, type Plan } from '../hooks/plan';
import { isResidualHook, issueText, planScheduleBlocks, scheduleReport, skippedBlockOf } from '../hooks/schedule';
import type { ModelSpec } from '../model/spec';
import type { ExecutionProvider } from '../runtime/protocol';
import type { Runtime, Session } from '../runtime/runtime';
import { writeAtomically } from '../write-atomically';

const MAX_CACHED_SESSIONS = 8;

/**
 * What the graph must do for `plan` (validated) and the extra lens heads. A block the
 * schedule skips is the identity (hooks/schedule.ts): interventions on its hooks and
 * edits of its weights are left out (the run warns about them), and captures and lens
 * heads of its residual hooks read the stream passing it by (graph/taps.ts).
 */
export function tapSpecFor(plan: Plan, extraLenses: LensHead[] = []): TapSpec {
  const schedule = planScheduleBlocks(plan);
  const { errors, inert } = scheduleReport(plan);
  if (errors.length > 0) throw new EngineError('bad_plan', `invalid plan: ${errors.map(issueText).join('; ')}`, { issues: errors }); // validatePlan reports these first

  const tapSpec: TapSpec = { captures: plan.captures.map((c) => c.hook), interventions: [], deltas: [], lenses: [], schedule };
  plan.interventions.forEach((step, i) => {
    if (inert.has(i)) return;
    switch (step.op) {
      case 'add':
      case 'set':
      case 'scale':
      case 'patch':
        tapSpec.interventions.push({ op: step.op, hook: step.hook, index: i });
        break;
      case 'weight_delta':
        tapSpec.deltas.push({ param: step.param, index: i });
        break;
      case 'lens':
        for (const layer of step.layers) {
          if (!tapSpec.lenses.some((lens) => lens.name === graphOutput.planLens(layer))) tapSpec.lenses.push({ name: graphOutput.planLens(layer), hook: hookName.residPost(layer), finalNorm: true, fuse: false });
        }
        break;
      case 'schedule':
        break;
    }
  });
  for (const lens of extraLenses) {
    // Decoding strategies read the stream start and residual hooks only, which every schedule gives a value.
    if (skippedBlockOf(lens.hook, schedule) !== null && !isResidualHook(lens.hook)) throw new Error(`lens head on ${lens.hook}, a hook of a block the schedule skips`);
    tapSpec.lenses.push(lens);
  }
  return tapSpec;
}

export interface CompiledSession {
  session: Session;
  tapSpec: TapSpec;
  /** KV-cache slots the graph reads: one per schedule position. */
  slots: number;
}

interface Entry {
  compiled: Promise<CompiledSession>;
  graphBytes: number;
  /** Runs using the session now; an evicted session is released when the last one ends. */
  leases: number;
  evicted: boolean;
}

/** A compiled session held for the length of a run or a generation; call done() after. */
export interface Lease {
  compiled: CompiledSession;
  done(): void;
}

export class PlanSessions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly runtime: Runtime,
    private readonly spec: ModelSpec,
    private readonly manifest: WeightManifest,
    private readonly dir: string,
    private readonly executionProvider: ExecutionProvider,
  ) {}

  /** The compiled session for this plan's structure and lens heads, compiling it on first use. */
  acquire(plan: Plan, extraLenses: LensHead[] = []): Promise<Lease> {
    const key = JSON.stringify([planStructureKey(plan), extraLenses]);
    return this.lease(key, () => {
      const tapSpec = tapSpecFor(plan, extraLenses);
      return { tapSpec, slots: tapSpec.schedule?.length ?? this.spec.nLayers, graph: buildForwardGraph(this.spec, this.manifest, tapSpec) };
    });
  }

  /**
   * Another graph over the same weight file (the neuron atlas, graph/atlas-graph.ts),
   * compiled on first use of `key` and cached with the plan sessions. It reads no KV cache.
   */
  acquireGraph(key: string, build: (spec: ModelSpec, manifest: WeightManifest) => ModelProtoData): Promise<Lease> {
    return this.lease(`graph:${key}`, () => ({ tapSpec: NO_TAPS, slots: 0, graph: build(this.spec, this.manifest) }));
  }

  private async lease(key: string, build: () => { tapSpec: TapSpec; slots: number; graph: ModelProtoData }): Promise<Lease> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: Map order is the least-recently-used order
    } else {
      const { tapSpec, slots, graph } = build();
      const graphPath = join(this.dir, `plan-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.onnx`);
      writeAtomically(graphPath, encodeModel(graph));
      const compiled = this.runtime.createSession(graphPath, this.executionProvider).then((session) => ({ session, tapSpec, slots }));
      entry = { compiled, graphBytes: statSync(graphPath).size, leases: 0, evicted: false };
    }
    this.entries.set(key, entry);
    entry.leases++;
    this.evictBeyondLimit();
    const held = entry;
    try {
      const compiled = await held.compiled;
      let ended = false;
      return {
        compiled,
        done: () => {
          if (ended) return;
          ended = true;
          this.endLease(held);
        },
      };
    } catch (error) {
      if (this.entries.get(key) === held) this.entries.delete(key); // a failed compile is not cached
      this.endLease(held);
      throw error;
    }
  }

  private endLease(entry: Entry): void {
    entry.leases--;
    if (entry.evicted && entry.leases === 0) void entry.compiled.then((c) => c.session.release()).catch(() => undefined);
  }

  private evictBeyondLimit(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= MAX_CACHED_SESSIONS) return;
      if (entry.leases > 0) continue;
      this.entries.delete(key);
      entry.evicted = true;
      void entry.compiled.then((c) => c.session.release()).catch(() => undefined);
    }
  }

  /**
   * What the cache holds: sessions, the bytes of their graph files, and an upper bound on
   * their memory: ORT prepacks the matrix weights per session (faster decoding, ORT-NOTES),
   * so each session may keep up to one copy of the weight file.
   */
  usage(): { sessions: number; graphBytes: number; estimatedBytes: number } {
    let graphBytes = 0;
    for (const entry of this.entries.values()) graphBytes += entry.graphBytes;
    const weightBytes = statSync(join(this.dir, this.manifest.file)).size;
    return { sessions: this.entries.size, graphBytes, estimatedBytes: graphBytes + this.entries.size * weightBytes };
  }

  async releaseAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((entry) => entry.compiled.then((c) => c.session.release()).catch(() => undefined)));
  }
}
