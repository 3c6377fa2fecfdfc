/**
 * A causal tracing cell as a Compare variant: noise sample 0 of the trace on the subject's
 * embeddings (add ops at hook_embed) with the cell's clean state restored (patch ops from
 * the traced prompt), or the noise alone, so the pair reruns what the trace measured for
 * that sample against the baseline. The ops come from src-shared/trace-variant.ts, which
 * the engine's trace draws its noise from too.
 */
import type { Intervention, VectorOrigin } from '../api/types';
import { traceInterventions, traceWindow } from '../../../../src-shared/trace-variant';
import { formatRanges } from './format';
import type { TracingRecord } from './inside';

/** A variant of several steps, each with the origin Compare shows for it. */
export interface StepsVariant {
  name: string;
  steps: { intervention: Intervention; origin: VectorOrigin | null }[];
}

/**
 * `cell`'s restore in the noised run (null: the noise alone). `width` is the loaded
 * model's d_model (hook_embed's width). Positions are explicit, as a patching cell's are:
 * on a Compare prompt shorter than the traced one they fall on generated tokens.
 */
export function traceVariant(record: TracingRecord, cell: { layer: number; position: number } | null, width: number): StepsVariant {
  const { request, result, input } = record;
  const setup = { ...request, noiseStd: result.noiseStd, nLayers: result.layers.length, width };
  const { start, end } = request.subject;
  const subject = `pos ${formatRanges(Array.from({ length: end - start }, (_, i) => start + i))}`;
  // A patch's origin names the prompt its source ids came from; the noise has none.
  const steps = traceInterventions(setup, cell).map((intervention) => ({
    intervention,
    origin: intervention.op === 'patch' ? ({ kind: 'patch-source', text: input.text } as const) : null,
  }));
  if (!cell) return { name: `Trace noise subject ${subject} (noise sample 0)`, steps };
  const layers = traceWindow(cell.layer, request.kind, request.window, result.layers.length);
  return { name: `Trace restore ${request.kind} L${formatRanges(layers)} pos ${cell.position} (noise sample 0)`, steps };
}
