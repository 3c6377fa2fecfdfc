/**
 * Causal tracing, ROME style (METHODS.md 6.1): Gaussian noise (noiseScale x the std of
 * the prompt's embedding entries) on the subject's token embeddings, S seeded noise
 * samples, and for each layer x position the clean state restored in the noised runs:
 * the block output (hidden), or the MLP or attention output over a window of layers.
 * The result is the mean p(answer) with each state restored, and its indirect effect.
 *
 * Batched on the plan machinery like the patching sweep: one plan holds a values-patch
 * at hook_embed (the noised embeddings) and one at the traced hook of every layer; a row
 * is one (cell, sample) pair and turns on the embedding patch, sample s's noise, and its
 * cell's layers at its position. The same S noise samples serve every cell (as ROME
 * reseeds per trace), so cells differ only in what they restore.
 */
import type { ModelHandle } from '../engine';
import { graphOutput } from '../graph-io';
import { hookName } from '../hooks/names';
import { validatePlan, type Plan } from '../hooks/plan';
import { shapeCapture } from '../plan/captures';
import type { PatchRows, RowPlan } from '../plan/feeds';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from './control';
import { logitStats, tokenProb } from './distribution';
import { tracingRequestSchema, type TracingRequestInput, type TracingResult } from '../../../src-shared/analysis-schema';
import { outsideRange } from '../../../src-shared/issues';
import { traceHook, traceNoiseDraws, traceWindow } from '../../../src-shared/trace-variant';

export async function causalTrace(model: ModelHandle, input: TracingRequestInput, control: AnalysisControl = {}): Promise<TracingResult> {
  const parsed = tracingRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('tracing', parsed.error.issues);
  const request = parsed.data;
  const { spec } = model;
  const { ids, subject, samples } = request;
  if (subject.end > ids.length) throw requestError('tracing', [{ path: ['subject', 'end'], message: `${subject.end} is past the prompt (${ids.length} tokens)` }]);
  if (request.answer !== null && request.answer >= spec.dVocab) throw requestError('tracing', [{ path: ['answer'], message: outsideRange('token', request.answer, spec.dVocab) }]);
  const length = ids.length;
  const layers = Array.from({ length: spec.nLayers }, (_, layer) => layer);
  const hooks = layers.map((layer) => traceHook(request.kind, layer));
  const embed = hookName.embed();

  // Clean run: the embeddings to noise, every layer's traced state, and the answer.
  throwIfCancelled(control.signal, 'causal tracing');
  const capturePlan = validatePlan(spec, { captures: [embed, ...hooks].map((hook) => ({ hook, positions: 'all' })) });
  const clean = await model.runRows(capturePlan, [{ plan: capturePlan, patches: new Map() }], [ids]);
  const captured = (hook: string): Float32Array => shapeCapture(spec, hook, clean.outputs[graphOutput.capture(hook)], 0, 'all', clean.run).data;
  const cleanEmbed = captured(embed);
  const width = spec.dModel;
  const cleanStats = logitStats(clean.logits[0][0]);
  const answer = request.answer ?? cleanStats.top1;
  const probability = (logits: Float32Array): number => tokenProb(logits, answer);
  const cleanProb = probability(clean.logits[0][0]);

  // S noised copies of the embeddings: noise only on the subject's positions.
  let sum = 0;
  let sumSquares = 0;
  for (const value of cleanEmbed) {
    sum += value;
    sumSquares += value * value;
  }
  const mean = sum / cleanEmbed.length;
  const noiseStd = request.noiseScale * Math.sqrt(Math.max(0, sumSquares / cleanEmbed.length - mean * mean));
  // The draws a tracing cell's Compare variant rebuilds (src-shared/trace-variant.ts).
  const draws = traceNoiseDraws(request.seed, (subject.end - subject.start) * width, samples);
  const noised = draws.map((sample) => {
    const rows = Float32Array.from(cleanEmbed);
    sample.forEach((draw, k) => (rows[subject.start * width + k] += noiseStd * draw));
    return rows;
  });
  const rowAt = (data: Float32Array, p: number): Float32Array => data.subarray(p * width, (p + 1) * width);

  // The plan: [0] the noised embeddings, [1 + l] the clean state at layer l.
  const zeros = [new Array<number>(width).fill(0)];
  const plan: Plan = validatePlan(spec, {
    interventions: [embed, ...hooks].map((hook) => ({ op: 'patch', hook, positions: 'all', source: { values: zeros } })),
  });
  const rowFor = (sample: number, cell: { layer: number; position: number } | null): RowPlan => {
    const patches = new Map<number, PatchRows>([[0, (p) => rowAt(noised[sample], p)]]);
    const restored = cell ? traceWindow(cell.layer, request.kind, request.window, spec.nLayers) : [];
    for (const layer of restored) {
      const source = captured(hooks[layer]);
      patches.set(1 + layer, (p) => (p === cell?.position ? rowAt(source, p) : null));
    }
    return { plan, active: new Set([0, ...restored.map((layer) => 1 + layer)]), patches };
  };

  // Rows: the S corrupted runs first, then every (cell, sample).
  type Row = { sample: number; cell: { layer: number; position: number } | null };
  const rows: Row[] = Array.from({ length: samples }, (_, sample) => ({ sample, cell: null }));
  for (const layer of layers) for (let position = 0; position < length; position++) for (let sample = 0; sample < samples; sample++) rows.push({ sample, cell: { layer, position } });
  const restoredSum = layers.map(() => new Array<number>(length).fill(0));
  let corruptedSum = 0;
  const passes = chunks(rows, request.batchSize);
  for (const [pass, batch] of passes.entries()) {
    throwIfCancelled(control.signal, 'causal tracing');
    const { logits } = await model.runRows(plan, batch.map((row) => rowFor(row.sample, row.cell)), batch.map(() => ids));
    batch.forEach((row, r) => {
      const p = probability(logits[r][0]);
      if (row.cell) restoredSum[row.cell.layer][row.cell.position] += p;
      else corruptedSum += p;
    });
    control.onProgress?.({ done: pass + 1, total: passes.length, unit: 'forward passes' });
  }
  const corruptedProb = corruptedSum / samples;
  const restoredProb = restoredSum.map((row) => row.map((total) => total / samples));
  return {
    layers,
    positions: ids.map((_, p) => p),
    answer,
    cleanProb,
    corruptedProb,
    restoredProb,
    indirectEffect: restoredProb.map((row) => row.map((p) => p - corruptedProb)),
    noiseStd,
    forwardPasses: 1 + passes.length,
    cells: layers.length * length,
  };
}
