/**
 * An experiment as far as it is complete. The engine only accepts experiments that pass
 * its schema, but while editing a variant may hold an op that is not finished yet (a
 * steering op before its vector is made, an empty neuron list). The autosave keeps
 * everything else rather than nothing: unfinished ops are left out, and an empty name
 * gets a placeholder.
 */
import type { Experiment, Intervention, Variant } from '../api/types';

export function isUnfinished(step: Intervention): boolean {
  switch (step.op) {
    case 'add':
      return step.vector.length === 0;
    case 'set':
    case 'scale':
      return step.indices.length === 0 || step.values.length === 0;
    case 'schedule':
      return step.blocks.length === 0;
    case 'patch':
      return 'prompt_ids' in step.source ? step.source.prompt_ids.length === 0 : step.source.values.length === 0;
    case 'lens':
      return step.layers.length === 0;
    default:
      return false;
  }
}

function finishedVariant(variant: Variant): Variant {
  const keep = variant.interventions.map((step, i) => ({ step, i })).filter(({ step }) => !isUnfinished(step));
  const origins: Variant['origins'] = {};
  keep.forEach(({ i }, next) => {
    const origin = variant.origins[String(i)];
    if (origin) origins[String(next)] = origin;
  });
  return { ...variant, name: variant.name.trim() === '' ? 'Unnamed variant' : variant.name, interventions: keep.map(({ step }) => step), origins };
}

export function finishedExperiment(experiment: Experiment): Experiment {
  return { ...experiment, variants: experiment.variants.map(finishedVariant) };
}
