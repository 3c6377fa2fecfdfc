/**
 * One analysis from the Inside tab in flight: the texts the user typed resolved to token
 * ids, the engine analysis run (engine/analysis/), and its outcome as one record for the
 * experiment file. Progress streams as 'analysis' events; the run ends with exactly one
 * event of state 'done', 'cancelled' or 'error'.
 */
import type { ModelHandle } from '../engine';
import { logitLens } from '../analysis/lens';
import { patchingSweep } from '../analysis/patching';
import { findSubject, tokenFromText } from '../analysis/tokens';
import { causalTrace } from '../analysis/tracing';
import { attentionPatterns } from '../analysis/attention';
import { neuronAtlas } from '../analysis/atlas';
import { compareAtlases } from '../analysis/atlas-compare';
import { clampCurve } from '../analysis/clamp-curve';
import { clampCurveInputSchema, clampCurveRequestSchema } from '../../../src-shared/clamp-schema';
import type { AnalysisControl } from '../analysis/control';
import { atlasCompareInputSchema, atlasCompareRequestSchema, atlasInputSchema, atlasRequestSchema, attentionInputSchema, lensInputSchema, patchInputSchema, tracingInputSchema, tracingRequestSchema, type AnalysisInput, type AnalysisRecord } from '../../../src-shared/analysis-schema';
import type { WorkbenchEvent } from './protocol';
import { BackgroundRun, updateFields } from './background-run';

/** Loads another model (an atlas comparison's) beside the loaded one, in its weight format; the caller unloads it. */
export type LoadOther = (path: string) => Promise<ModelHandle>;

/** Resolve the texts of `input`, run the analysis, and keep it with the text of every token id it names. */
export async function runAnalysis(handle: ModelHandle, analysis: AnalysisInput, id: string, control: AnalysisControl, loadOther: LoadOther): Promise<AnalysisRecord> {
  const { tokenizer } = handle;
  const createdAt = new Date().toISOString();
  const labelsOf = (...lists: number[][]): Record<string, string> => Object.fromEntries([...new Set(lists.flat())].map((id) => [String(id), tokenizer.tokenText(id)]));
  if (analysis.kind === 'lens') {
    const input = lensInputSchema.parse(analysis.input);
    const request = { ids: tokenizer.encode(input.text), site: input.site, finalNorm: input.finalNorm, target: input.target === null ? null : tokenFromText(tokenizer, input.target, 'target') };
    const result = await logitLens(handle, request, control);
    const labels = labelsOf(request.ids, result.top1.flat(), result.final.top1, request.target === null ? [] : [request.target]);
    return { kind: 'lens', id, createdAt, labels, input, request, result };
  }
  if (analysis.kind === 'attention') {
    const input = attentionInputSchema.parse(analysis.input);
    const request = { ids: tokenizer.encode(input.text) };
    const result = await attentionPatterns(handle, request, control);
    return { kind: 'attention', id, createdAt, labels: labelsOf(request.ids), input, request, result };
  }
  if (analysis.kind === 'atlas') {
    const input = atlasInputSchema.parse(analysis.input);
    // Parsed so the record keeps every default the run used.
    const request = atlasRequestSchema.parse({
      layer: input.layer,
      top: input.top,
      finalNorm: input.finalNorm,
      normalise: input.normalise,
      search: input.search === null ? null : tokenFromText(tokenizer, input.search, 'search'),
      searchMatrix: input.searchMatrix,
      ids: input.text === null ? null : tokenizer.encode(input.text),
      limit: input.limit,
    });
    const result = await neuronAtlas(handle, request, control);
    const neurons = [...(result.table ?? []), ...(result.search?.neurons ?? []), ...(result.active?.neurons ?? [])];
    const decoded = neurons.flatMap((entry) => [entry.up.ids, entry.gate?.ids ?? [], entry.down.ids]);
    return { kind: 'atlas', id, createdAt, labels: labelsOf(request.ids ?? [], request.search === null ? [] : [request.search], ...decoded), input, request, result };
  }
  if (analysis.kind === 'atlas_compare') {
    const input = atlasCompareInputSchema.parse(analysis.input);
    // Parsed so the record keeps every default the run used.
    const request = atlasCompareRequestSchema.parse({ layers: input.layer === null ? null : [input.layer], matrix: input.matrix, finalNorm: input.finalNorm, normalise: input.normalise, limit: input.limit });
    const other = await loadOther(input.otherPath);
    try {
      const result = await compareAtlases(handle, other, request, control);
      // Token texts from the loaded model's tokenizer: the comparison checked the vocabularies are one size.
      return { kind: 'atlas_compare', id, createdAt, labels: labelsOf(result.changed.flatMap((entry) => [entry.base.id, entry.other.id])), input, request, result };
    } finally {
      await other.unload();
    }
  }
  if (analysis.kind === 'clamp_curve') {
    const input = clampCurveInputSchema.parse(analysis.input);
    // Parsed so the record keeps every default the run used.
    const request = clampCurveRequestSchema.parse({
      ids: tokenizer.encode(input.text),
      layer: input.layer,
      neuron: input.neuron,
      token: tokenFromText(tokenizer, input.token, 'concept token'),
      values: input.values,
      scale: input.scale,
      reference: input.reference === null ? null : tokenizer.encode(input.reference),
      average: input.average,
    });
    const result = await clampCurve(handle, request, control);
    return { kind: 'clamp_curve', id, createdAt, labels: labelsOf(request.ids, request.reference ?? [], [request.token]), input, request, result };
  }
  if (analysis.kind === 'tracing') {
    const input = tracingInputSchema.parse(analysis.input);
    const ids = tokenizer.encode(input.text);
    // Parsed so the record keeps every default the run used.
    const request = tracingRequestSchema.parse({
      ids,
      subject: findSubject(tokenizer, ids, input.subject),
      answer: input.answer === null ? null : tokenFromText(tokenizer, input.answer, 'answer'),
      kind: input.kind,
      window: input.window,
      samples: input.samples,
      seed: input.seed,
    });
    const result = await causalTrace(handle, request, control);
    return { kind: 'tracing', id, createdAt, labels: labelsOf(ids, [result.answer]), input, request, result };
  }
  const input = patchInputSchema.parse(analysis.input);
  const request = {
    clean: tokenizer.encode(input.clean),
    corrupted: tokenizer.encode(input.corrupted),
    answer: tokenFromText(tokenizer, input.answer, 'answer'),
    wrong: tokenFromText(tokenizer, input.wrong, 'wrong'),
    site: input.site,
    direction: input.direction,
    metric: input.metric,
    positions: input.positions,
    alignment: input.alignment,
  };
  const result = await patchingSweep(handle, request, control);
  return { kind: 'patching', id, createdAt, labels: labelsOf(request.clean, request.corrupted, [request.answer, request.wrong]), input, request: result.request, result };
}

/** An analysis as a BackgroundRun, reported as 'analysis' events (record only when done). */
export class AnalysisRun extends BackgroundRun<AnalysisRecord> {
  constructor(handle: ModelHandle, analysis: AnalysisInput, emit: (event: WorkbenchEvent) => void, loadOther: LoadOther) {
    super(
      (control, id) => runAnalysis(handle, analysis, id, control, loadOther),
      (analysisId, update) => {
        const { value, ...fields } = updateFields(update);
        emit({ type: 'analysis', analysisId, ...fields, record: value });
      },
    );
  }

  get analysisId(): string {
    return this.id;
  }
}
