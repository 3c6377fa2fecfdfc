/**
 * The first principal component of a few rows of high dimension, as repeng's pca_diff
 * takes it (METHODS.md 7.3): sklearn's PCA mean-centres the rows first, so this is the top
 * direction of the CENTRED rows. With n rows of width d (n << d), the top eigenvector u of
 * the n x n Gram matrix G = X X^T gives the component X^T u / ||X^T u||, without a d x d
 * covariance. Power iteration from a fixed start keeps it deterministic.
 */
import { EngineError } from '../../errors';

const MAX_ITERATIONS = 2000;
const TOLERANCE = 1e-12;

export interface PrincipalComponent {
  direction: Float32Array;
  /** Fraction of the centred rows' variance along the direction. */
  explainedVariance: number;
}

/** rows: n rows of width d. */
export function firstPrincipalComponent(rows: Float64Array[]): PrincipalComponent {
  const n = rows.length;
  if (n < 2) throw new EngineError('bad_argument', `PCA needs at least 2 pairs (got ${n}): one difference has no variance to find a direction in; use the mean difference`);
  const d = rows[0].length;
  const mean = new Float64Array(d);
  for (const row of rows) for (let i = 0; i < d; i++) mean[i] += row[i] / n;
  const centred = rows.map((row) => row.map((value, i) => value - mean[i]));
  const gram = centred.map((a) => centred.map((b) => dot(a, b)));
  const total = gram.reduce((sum, row, i) => sum + row[i], 0);
  if (total <= 1e-20) throw new EngineError('bad_argument', 'the differences are all equal, so they have no principal direction; use the mean difference');

  // Start off every eigenvector's orthogonal complement in general: index-dependent weights.
  let u = Float64Array.from({ length: n }, (_, i) => 1 + i / n);
  let eigenvalue = 0;
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const next = Float64Array.from(gram, (row) => dot(row, u));
    const length = Math.sqrt(dot(next, next));
    const normalised = next.map((value) => value / length);
    const change = Math.abs(length - eigenvalue);
    u = normalised;
    eigenvalue = length;
    if (change <= TOLERANCE * length) break;
  }
  const direction = new Float64Array(d);
  centred.forEach((row, j) => row.forEach((value, i) => (direction[i] += u[j] * value)));
  const length = Math.sqrt(dot(direction, direction));
  return { direction: Float32Array.from(direction, (value) => value / length), explainedVariance: eigenvalue / total };
}

/**
 * repeng's sign rule: project each pair's positive and negative activations on the
 * direction; if positives fall below their negatives more often than above, flip it, so
 * adding the vector moves toward the positive prompts.
 */
export function signCorrected(direction: Float32Array, positives: Float64Array[], negatives: Float64Array[]): { direction: Float32Array; flipped: boolean } {
  let below = 0;
  let above = 0;
  positives.forEach((positive, i) => {
    const difference = dot(positive, direction) - dot(negatives[i], direction);
    if (difference < 0) below++;
    else if (difference > 0) above++;
  });
  const flipped = below > above;
  return { direction: flipped ? direction.map((value) => -value) : direction, flipped };
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}
