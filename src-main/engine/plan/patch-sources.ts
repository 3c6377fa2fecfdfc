/**
 * The rows a plan feeds for its patches: cached rows (source.values) as given, and source
 * prompts (source.prompt_ids) run once, clean, and kept, so re-running a variant (or
 * several variants patching from one prompt) does not recompute them.
 */
import type { Plan } from '../hooks/plan';
import { scheduleReport } from '../hooks/schedule';
import { patchRowsFromValues, type PatchRows, type RowPlan } from './feeds';

/** Source runs kept; the oldest is dropped first. */
const MAX_CACHED_SOURCES = 16;

export class PatchSources {
  private readonly cache = new Map<string, Promise<Float32Array>>();

  /** `capture` runs the model's plain forward pass over `ids` and returns `hook` at every position. */
  constructor(private readonly capture: (hook: string, ids: number[]) => Promise<Float32Array>) {}

  /** A plan's row: patches from a source prompt are run (clean) once and cached; a patch with no effect is not. */
  async rowPlan(plan: Plan, active?: ReadonlySet<number>, lensLambdas?: Map<string, number>): Promise<RowPlan> {
    const patches = new Map<number, PatchRows>();
    const { inert } = scheduleReport(plan);
    for (const [index, step] of plan.interventions.entries()) {
      if (step.op !== 'patch' || (active && !active.has(index)) || inert.has(index)) continue;
      if (!('prompt_ids' in step.source)) {
        patches.set(index, patchRowsFromValues(step));
        continue;
      }
      const ids = step.source.prompt_ids;
      const data = await this.activations(step.hook, ids);
      const width = data.length / ids.length;
      patches.set(index, (position) => (position < ids.length ? data.subarray(position * width, (position + 1) * width) : null));
    }
    return { plan, active, patches, lensLambdas };
  }

  /** The clean run's activations at `hook` over `ids`, every position: [n_positions * width]. */
  activations(hook: string, ids: number[]): Promise<Float32Array> {
    const key = JSON.stringify([hook, ids]);
    let cached = this.cache.get(key);
    if (!cached) {
      cached = this.capture(hook, ids);
      cached.catch(() => this.cache.delete(key));
      this.cache.set(key, cached);
      if (this.cache.size > MAX_CACHED_SOURCES) this.cache.delete(this.cache.keys().next().value as string);
    }
    return cached;
  }
}
