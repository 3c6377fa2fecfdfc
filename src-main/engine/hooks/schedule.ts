/**
 * What a plan's block schedule means for the hooks of the blocks it skips. A skipped
 * block acts as the identity on the residual stream, as if it were not in the model:
 *
 *   - interventions on any of its hooks, and weight_deltas of its parameters, have no
 *     effect: they are accepted, and the run warns about each (so one plan can be tried
 *     with and without a block);
 *   - its residual hooks (hook_resid_pre / hook_resid_mid / hook_resid_post) read the
 *     PASSTHROUGH stream: the residual stream after the last schedule position whose
 *     block is lower than it (the output of hook_embed if there is none). For a monotone
 *     schedule that is exactly the stream entering the next block that runs, so the lens
 *     of a skipped layer equals the lens of the layer before it;
 *   - its internal hooks (ln*, attn.*, hook_attn_out, mlp.*, hook_mlp_out) never get a
 *     value, so capturing one is an error that names the schedule.
 *
 * Data only: validatePlan reports the errors, the compiler (plan/compile.ts) leaves the
 * no-op interventions out of the graph, and graph/taps.ts wires the passthrough stream.
 */
import { parseHookName } from './names';
import type { Plan, PlanIssue } from './plan';

/** Residual-stream sites of a block: the ones a skipped block still has a value for. */
const RESIDUAL_SITES: readonly string[] = ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post'];

/** The plan's schedule, or null when it runs every block once, in order. */
export function planScheduleBlocks(plan: Plan): number[] | null {
  const schedule = plan.interventions.find((step) => step.op === 'schedule');
  return schedule ? schedule.blocks : null;
}

/** The block `hook` belongs to when the schedule skips it; null otherwise (or for a non-block hook). */
export function skippedBlockOf(hook: string, schedule: readonly number[] | null): number | null {
  const layer = parseHookName(hook)?.layer;
  if (schedule === null || layer === null || layer === undefined) return null;
  return schedule.includes(layer) ? null : layer;
}

/** True for hook_resid_pre / mid / post of any block. */
export function isResidualHook(hook: string): boolean {
  const site = parseHookName(hook)?.site;
  return site !== undefined && RESIDUAL_SITES.includes(site);
}

/** The block of a weight_delta's param ("blocks.2.mlp.down_proj" -> 2); null for unembed. */
function paramBlock(param: string): number | null {
  const match = /^blocks\.(\d+)\./.exec(param);
  return match ? Number(match[1]) : null;
}

export interface ScheduleReport {
  /** Captures the schedule leaves without a value (internal hooks of skipped blocks). */
  errors: PlanIssue[];
  /** Interventions that have no effect because their block is skipped, one issue each. */
  warnings: PlanIssue[];
  /** Indices (into plan.interventions) of those no-op interventions: the compiler leaves them out. */
  inert: Set<number>;
}

/** The schedule's consequences for a plan whose hooks and params are already known to exist. */
export function scheduleReport(plan: Plan): ScheduleReport {
  const report: ScheduleReport = { errors: [], warnings: [], inert: new Set() };
  const schedule = planScheduleBlocks(plan);
  if (schedule === null) return report;
  const skips = (block: number): string => `is in block ${block}, which the schedule [${schedule.join(', ')}] skips`;

  plan.captures.forEach((capture, i) => {
    const block = skippedBlockOf(capture.hook, schedule);
    if (block === null || isResidualHook(capture.hook)) return;
    report.errors.push({
      path: `captures[${i}].hook`,
      message: `${capture.hook} ${skips(block)}: of a skipped block only the residual hooks (hook_resid_pre/mid/post, which read the stream passing it by) can be captured`,
    });
  });

  plan.interventions.forEach((step, i) => {
    if (step.op === 'schedule' || step.op === 'lens') return; // nothing applied at a hook
    const target = step.op === 'weight_delta' ? step.param : step.hook;
    const block = step.op === 'weight_delta' ? paramBlock(step.param) : parseHookName(step.hook)?.layer;
    if (block === null || block === undefined || schedule.includes(block)) return;
    report.warnings.push({ path: `interventions[${i}]`, message: `${target} ${skips(block)}: no effect` });
    report.inert.add(i);
  });
  return report;
}

/** "path: message", the form warnings take in run and generation results. */
export function issueText(issue: PlanIssue): string {
  return `${issue.path}: ${issue.message}`;
}
