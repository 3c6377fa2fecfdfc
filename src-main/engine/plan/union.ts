/**
 * Several variants' plans as one plan for one batch: every variant's interventions in
 * sequence, captures and lens layers merged, and per row the set of interventions that
 * row applies (the others get neutral values: a zero mask, a zero delta). The plans must
 * share their schedule, which is the graph's topology.
 */
import type { Intervention, Plan } from '../hooks/plan';

export function unionPlan(plans: Plan[]): { plan: Plan; active: Set<number>[] } {
  const interventions: Intervention[] = [];
  const active = plans.map(() => new Set<number>());
  const schedule = plans[0].interventions.find((step) => step.op === 'schedule');
  if (schedule) interventions.push(schedule);
  plans.forEach((plan, row) => {
    for (const step of plan.interventions) {
      if (step.op === 'schedule' || step.op === 'lens') continue;
      active[row].add(interventions.length);
      interventions.push(step);
    }
  });
  const lensLayers = [...new Set(plans.flatMap((plan) => plan.interventions.flatMap((step) => (step.op === 'lens' ? step.layers : []))))];
  if (lensLayers.length > 0) interventions.push({ op: 'lens', layers: lensLayers.sort((a, b) => a - b) });
  const captures = [...new Map(plans.flatMap((plan) => plan.captures).map((capture) => [capture.hook, capture])).values()];
  return { plan: { captures, interventions }, active };
}
