/**
 * Plans compiled into graphs. One graph per plan structure (planStructureKey) plus the
 * lens heads a decoding strategy asks for: plan values (vectors, indices, clamp values,
 * patched rows, deltas, position masks) are graph inputs (plan/feeds.ts), so a new value
 * reuses the compiled session, and plans of one structure run as rows of one batch.
 * Sessions are cached, bounded, and share the model's weight file.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors';
import { encodeModel } from '../graph/onnx-proto';
import { buildLlamaGraph } from '../graph/llama';
import type { LensHead, TapSpec } from '../graph/taps';
import type { WeightManifest } from '../graph/weights-file';
import { hookName, parseHookName } from '../hooks/names';
import { planStructureKey, type Plan } from '../hooks/plan';
import type { ModelSpec } from '../model/spec';
import type { ExecutionProvider } from '../runtime/protocol';
import type { Runtime, Session } from '../runtime/runtime';
import { writeAtomically } from '../write-atomically';

const MAX_CACHED_SESSIONS = 8;

/** The graph output of the plan's lens op for block `layer`: logit lens of its hook_resid_post. */
export const planLensOutput = (layer: number): string => `lens.${layer}`;

/** The plan's block order: its schedule, or every block once. */
export function planSchedule(spec: ModelSpec, plan: Plan): number[] {
  const schedule = plan.interventions.find((step) => step.op === 'schedule');
  return schedule ? schedule.blocks : Array.from({ length: spec.nLayers }, (_, layer) => layer);
}

/** What the graph must do for `plan` (validated) and the extra lens heads. */
export function tapSpecFor(spec: ModelSpec, plan: Plan, extraLenses: LensHead[] = []): TapSpec {
  const scheduled = plan.interventions.find((step) => step.op === 'schedule');
  const runs = new Set(planSchedule(spec, plan));
  // A hook of a block the schedule skips never gets a value: say so instead of failing in ORT.
  const requireRuns = (hook: string, path: string): void => {
    const layer = parseHookName(hook)?.layer;
    if (layer !== null && layer !== undefined && !runs.has(layer)) {
      throw new EngineError('bad_plan', `${path}: ${hook} is in block ${layer}, which the schedule [${[...planSchedule(spec, plan)].join(', ')}] skips`);
    }
  };
  plan.captures.forEach((capture, i) => requireRuns(capture.hook, `captures[${i}].hook`));

  const tapSpec: TapSpec = { captures: plan.captures.map((c) => c.hook), interventions: [], deltas: [], lenses: [], schedule: scheduled ? scheduled.blocks : null };
  plan.interventions.forEach((step, i) => {
    const prefix = `intervention.${i}`;
    switch (step.op) {
      case 'add':
      case 'set':
      case 'scale':
      case 'patch':
        requireRuns(step.hook, `interventions[${i}].hook`);
        tapSpec.interventions.push({ op: step.op, hook: step.hook, prefix });
        break;
      case 'weight_delta': {
        if (tapSpec.deltas.some((delta) => delta.param === step.param)) {
          throw new EngineError('bad_plan', `interventions[${i}].param: ${step.param} already has a weight_delta; merge them into one of higher rank`);
        }
        requireRuns(`${step.param.split('.').slice(0, 2).join('.')}.hook_resid_post`, `interventions[${i}].param`);
        tapSpec.deltas.push({ param: step.param, prefix });
        break;
      }
      case 'lens':
        step.layers.forEach((layer, j) => {
          const hook = hookName.residPost(layer);
          requireRuns(hook, `interventions[${i}].layers[${j}]`);
          if (!tapSpec.lenses.some((lens) => lens.name === planLensOutput(layer))) tapSpec.lenses.push({ name: planLensOutput(layer), hook, finalNorm: true, fuse: false });
        });
        break;
      case 'schedule':
        break;
    }
  });
  for (const lens of extraLenses) {
    requireRuns(lens.hook, `lens ${lens.name}`);
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
  async acquire(plan: Plan, extraLenses: LensHead[] = []): Promise<Lease> {
    const key = JSON.stringify([planStructureKey(plan), extraLenses]);
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: Map order is the least-recently-used order
    } else {
      const tapSpec = tapSpecFor(this.spec, plan, extraLenses);
      const graphPath = join(this.dir, `plan-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.onnx`);
      writeAtomically(graphPath, encodeModel(buildLlamaGraph(this.spec, this.manifest, tapSpec)));
      const slots = tapSpec.schedule?.length ?? this.spec.nLayers;
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
