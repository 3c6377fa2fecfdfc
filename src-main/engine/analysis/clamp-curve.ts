/**
 * The clamp experiment that validates a decoded neuron (METHODS.md 5, Davies): set one MLP
 * neuron's activation to a constant c at every position (mlp.hook_post, the input of
 * down_proj, so the residual stream gains (c - act)·W_down[:, i]) and read p(concept) at
 * the next-token positions, for a list of c. A decoded "dog" neuron clamped high should
 * raise p(" dog").
 *
 * Values are multiples of the neuron's largest observed activation (signed, the largest
 * |act| over the reference text, or the prompt) or absolute. One pass runs the prompt
 * unclamped and captures the neuron; then every clamp value is one batch row of a plan
 * holding one `set` (its value is a fed input, so all rows share the compiled graph),
 * `batchSize` rows per pass.
 */
import { graphOutput } from '../graph-io';
import type { ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { hookName } from '../hooks/names';
import { validatePlan, type Plan } from '../hooks/plan';
import { shapeCapture } from '../plan/captures';
import type { RowPlan } from '../plan/feeds';
import { clampCurveRequestSchema, type ClampCurveRequestInput, type ClampCurveResult, type ClampReading } from '../../../src-shared/clamp-schema';
import { outsideRange } from '../../../src-shared/issues';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from './control';
import { rankOf, tokenProb } from './distribution';

export async function clampCurve(model: ModelHandle, input: ClampCurveRequestInput, control: AnalysisControl = {}): Promise<ClampCurveResult> {
  const parsed = clampCurveRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('clamp curve', parsed.error.issues);
  const request = parsed.data;
  const { nLayers, dMlp, dVocab } = model.spec;
  const issues: { path: string[]; message: string }[] = [];
  if (request.layer >= nLayers) issues.push({ path: ['layer'], message: outsideRange('layer', request.layer, nLayers) });
  if (request.neuron >= dMlp) issues.push({ path: ['neuron'], message: outsideRange('neuron', request.neuron, dMlp) });
  if (request.token >= dVocab) issues.push({ path: ['token'], message: outsideRange('token', request.token, dVocab) });
  const badId = [...request.ids, ...(request.reference ?? [])].find((id) => id >= dVocab);
  if (badId !== undefined) issues.push({ path: [request.ids.includes(badId) ? 'ids' : 'reference'], message: outsideRange('token', badId, dVocab) });
  if (issues.length > 0) throw requestError('clamp curve', issues);

  const { ids, neuron, token } = request;
  const hook = hookName.mlpPost(request.layer);
  // The last position always; every position when the curve is averaged over them.
  const logitsAt = request.average ? ids.map((_, p) => p) : [ids.length - 1];
  const read = (logits: Float32Array[]): ClampReading => {
    const last = logits[logits.length - 1];
    return { prob: tokenProb(last, token), rank: rankOf(last, token), meanProb: request.average ? logits.reduce((sum, row) => sum + tokenProb(row, token), 0) / logits.length : null };
  };

  // The unclamped run, capturing the neuron (and the reference text's run when there is one).
  throwIfCancelled(control.signal, 'clamp curve');
  const capturePlan = validatePlan(model.spec, { captures: [{ hook, positions: 'all' }] });
  const captureRow: RowPlan = { plan: capturePlan, patches: new Map() };
  const base = await model.runRows(capturePlan, [captureRow], [ids], { logitsAt });
  const observed = request.reference === null ? base : await model.runRows(capturePlan, [captureRow], [request.reference]);
  const captured = observed.outputs[graphOutput.capture(hook)];
  if (!captured) throw new EngineError('runtime_error', `clamp curve: no capture of ${hook}`);
  const post = shapeCapture(model.spec, hook, captured, 0, 'all', observed.run).data; // [pos, d_mlp]
  let maxPosition = 0;
  for (let p = 1; p < post.length / dMlp; p++) if (Math.abs(post[p * dMlp + neuron]) > Math.abs(post[maxPosition * dMlp + neuron])) maxPosition = p;
  const maxActivation = post[maxPosition * dMlp + neuron];
  const warnings: string[] = [];
  if (request.scale === 'max_activation' && maxActivation === 0) warnings.push(`the neuron is 0 at every position of the ${request.reference === null ? 'prompt' : 'reference text'}, so every multiple clamps it to 0`);
  const values = request.values.map((value) => (request.scale === 'max_activation' ? value * maxActivation : value));

  // Every value one row of a plan with one set; the rows differ only in the value fed.
  const clampPlan = (value: number): Plan => validatePlan(model.spec, { interventions: [{ op: 'set', hook, indices: [neuron], values: [value], positions: 'all' }] });
  const structure = clampPlan(0);
  const points: ClampCurveResult['points'] = [];
  const passes = chunks(values, request.batchSize);
  for (const [pass, batch] of passes.entries()) {
    throwIfCancelled(control.signal, 'clamp curve');
    const { logits } = await model.runRows(structure, batch.map((value) => ({ plan: clampPlan(value), patches: new Map() })), batch.map(() => ids), { logitsAt });
    batch.forEach((value, r) => points.push({ value, ...read(logits[r]) }));
    control.onProgress?.({ done: pass + 1, total: passes.length, unit: 'forward passes' });
  }
  return {
    hook,
    maxActivation,
    maxPosition,
    baseline: read(base.logits[0]),
    points,
    forwardPasses: (request.reference === null ? 1 : 2) + passes.length,
    warnings,
  };
}
