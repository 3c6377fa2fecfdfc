/**
 * Steering vectors from contrast sets (METHODS.md 7.2, 7.3), at each of several hooks:
 *
 *   mean   CAA: mean over positives minus mean over negatives (= the mean of the pair
 *          differences when they pair up)
 *   pca    repeng's pca_diff: the first principal component of the centred pair
 *          differences, unit length, its sign set so positives project above their negatives
 *
 * Each vector's L2 norm is reported with the mean norm of the activations it was read from
 * (relativeNorm = ||v|| / mean ||h||), the scale that tells what a strength means at that
 * layer; the PCA direction is unit length, so its strength is in activation units.
 */
import { z } from 'zod';
import type { ModelHandle } from '../../engine';
import { EngineError } from '../../errors';
import { requestError, type AnalysisControl } from '../control';
import { dot, firstPrincipalComponent, signCorrected } from './pca';
import { readActivations, readoutSchema } from './readout';

export const EXTRACT_METHODS = ['mean', 'pca'] as const;
const prompts = z.array(z.string().min(1, 'must not be empty')).min(1, 'must hold at least one prompt').max(10_000);

export const extractRequestSchema = z.strictObject({
  method: z.enum(EXTRACT_METHODS).default('mean'),
  positive: prompts,
  negative: prompts,
  hooks: z.array(z.string().min(1)).min(1, 'must name at least one hook').max(1024),
  readout: readoutSchema.default('last'),
  answerPosition: z.int().max(-1, 'counts from the end: -1 is the last token').default(-2),
  batchSize: z.int().min(1).max(256).default(16),
});
export type ExtractRequest = z.output<typeof extractRequestSchema>;
export type ExtractRequestInput = z.input<typeof extractRequestSchema>;

export interface ExtractedVector {
  hook: string;
  vector: Float32Array;
  norm: number;
  /** Mean L2 norm of the activations read at this hook (positives and negatives). */
  residualNorm: number;
  relativeNorm: number;
  /** PCA only: the share of the differences' variance the direction explains, and whether the sign was flipped. */
  explainedVariance?: number;
  flipped?: boolean;
}

export interface ExtractResult {
  method: ExtractRequest['method'];
  readout: ExtractRequest['readout'];
  pairs: number;
  vectors: ExtractedVector[];
  forwardPasses: number;
}

export async function extractVectors(model: ModelHandle, input: ExtractRequestInput, control: AnalysisControl = {}): Promise<ExtractResult> {
  const parsed = extractRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('vector extraction', parsed.error.issues);
  const request = parsed.data;
  const { positive, negative, hooks, method } = request;
  if (method === 'pca' && positive.length !== negative.length) {
    throw new EngineError('bad_argument', `PCA works on pairs: ${positive.length} positive and ${negative.length} negative prompts; give one negative per positive`);
  }
  const options = { readout: request.readout, answerPosition: request.answerPosition, batchSize: request.batchSize };
  const read = await readActivations(model, [...positive, ...negative], hooks, options, control);
  const plus = read.vectors.slice(0, positive.length);
  const minus = read.vectors.slice(positive.length);

  const vectors = hooks.map((hook, h): ExtractedVector => {
    const residualNorm = read.residualNorms[h];
    const finish = (vector: Float32Array, extra: Partial<ExtractedVector> = {}): ExtractedVector => {
      const norm = Math.sqrt(dot(vector, vector));
      return { hook, vector, norm, residualNorm, relativeNorm: residualNorm > 0 ? norm / residualNorm : 0, ...extra };
    };
    if (method === 'mean') {
      const meanOf = (rows: Float64Array[][]) => rows.reduce((sum, row) => sum.map((value, i) => value + row[h][i] / rows.length), new Float64Array(rows[0][h].length));
      const a = meanOf(plus);
      const b = meanOf(minus);
      return finish(Float32Array.from(a, (value, i) => value - b[i]));
    }
    const differences = plus.map((row, i) => row[h].map((value, j) => value - minus[i][h][j]));
    const { direction, explainedVariance } = firstPrincipalComponent(differences);
    const corrected = signCorrected(direction, plus.map((row) => row[h]), minus.map((row) => row[h]));
    return finish(corrected.direction, { explainedVariance, flipped: corrected.flipped });
  });
  return { method, readout: request.readout, pairs: Math.min(positive.length, negative.length), vectors, forwardPasses: read.forwardPasses };
}
