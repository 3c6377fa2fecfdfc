/**
 * Edits of one variant, as pure functions returning a new variant. `origins` is keyed by
 * intervention index (a string, as in the file), so removing or moving an intervention
 * moves its origin with it.
 */
import type { Intervention, Variant, VectorOrigin } from '../api/types';
import { newVariantId } from './defaults';

export function addIntervention(variant: Variant, step: Intervention): Variant {
  return { ...variant, interventions: [...variant.interventions, step] };
}

export function replaceIntervention(variant: Variant, index: number, step: Intervention): Variant {
  const interventions = variant.interventions.slice();
  interventions[index] = step;
  return { ...variant, interventions };
}

export function setOrigin(variant: Variant, index: number, origin: VectorOrigin | null): Variant {
  const origins = { ...variant.origins };
  if (origin) origins[String(index)] = origin;
  else delete origins[String(index)];
  return { ...variant, origins };
}

export function removeIntervention(variant: Variant, index: number): Variant {
  const interventions = variant.interventions.filter((_, i) => i !== index);
  const order = variant.interventions.map((_, i) => i).filter((i) => i !== index);
  return { ...variant, interventions, origins: remapOrigins(variant.origins, order) };
}

/** Move intervention `index` by `delta` places (order matters: ops on one hook compose in order). */
export function moveIntervention(variant: Variant, index: number, delta: number): Variant {
  const target = index + delta;
  if (target < 0 || target >= variant.interventions.length || delta === 0) return variant;
  const order = variant.interventions.map((_, i) => i);
  order.splice(index, 1);
  order.splice(target, 0, index);
  return { ...variant, interventions: order.map((i) => variant.interventions[i]), origins: remapOrigins(variant.origins, order) };
}

/** order[newIndex] = oldIndex. */
function remapOrigins(origins: Variant['origins'], order: number[]): Variant['origins'] {
  const out: Variant['origins'] = {};
  order.forEach((oldIndex, newIndex) => {
    const origin = origins[String(oldIndex)];
    if (origin) out[String(newIndex)] = origin;
  });
  return out;
}

export function duplicateVariant(variant: Variant, name: string): Variant {
  return { ...structuredClone(variant), id: newVariantId(), name };
}

/** "Steer 2" when "Steer" and "Steer 1" exist... the first free "<base> n". */
export function uniqueName(base: string, taken: readonly string[]): string {
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) {
    const name = `${base} ${n}`;
    if (!taken.includes(name)) return name;
  }
}
