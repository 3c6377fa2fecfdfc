/**
 * The neuron atlas as graphs over the model's weight file (METHODS.md 5): MLP neuron
 * directions [n, d_model] (up/gate rows, down columns; analysis/atlas.ts reads them) go
 * through the final norm and the unembedding in one batched product, and only what the
 * atlas keeps leaves the graph: the top k logits per neuron (TopK), their probabilities,
 * and the mean logit under the decoded distribution (for its entropy). A second graph scores the same directions
 * against a few token directions (the unembedding columns of searched tokens).
 *
 * The z-score ranking (METHODS.md 5: a token that tops many neurons is ranked by how far a
 * neuron's logit for it stands out from the layer's other neurons) needs each token's mean
 * and standard deviation over the layer's neurons. With r_i the normed direction, z_i[t] =
 * W_U[t]·r_i is linear in r_i, so mean_i z_i[t] = W_U[t]·m and var_i z_i[t] = W_U[t]ᵀ C W_U[t],
 * with m the mean direction and C the [d_model, d_model] covariance of the directions:
 * 'moments' sums them over chunks of directions, 'token_moments' takes C (a block of its
 * rows at a time) and m through the head, so the [d_mlp, d_vocab] logits are never needed twice.
 *
 *   decode    atlas.rows [n, d_model], atlas.k int64 [1] -> atlas.top_logits [n, k], atlas.top_ids int64 [n, k],
 *             atlas.top_probs [n, k], atlas.expected_logit [n, 1] (E_p[z]), atlas.log_sum_exp [n, 1]
 *   decode_z  the same, with atlas.token_mean [1, d_vocab] and atlas.token_inv_std [1, d_vocab] in: ranked by
 *             (z - mean) * inv_std, also out as atlas.top_scores [n, k] (top_logits are those tokens' logits)
 *   score     atlas.rows [n, d_model], atlas.directions [d_model, m] -> atlas.scores [n, m]
 *   moments   atlas.rows [n, d_model], atlas.centre [1, d_model] -> atlas.row_sum [1, d_model] (Σ (r_i - c)),
 *             atlas.gram [d_model, d_model] (Σ (r_i - c)(r_i - c)ᵀ), r_i the normed rows
 *   token_moments  atlas.rows [b, d_model] (rows a of C), atlas.centre [1, d_model] (m), and the same rows of
 *             W_U: float32 weights gather them (atlas.block int64 [b], the a's), quantized ones take the identity's
 *             rows a through the head (atlas.basis [b, d_model]) -> atlas.quad [1, d_vocab] (Σ_a (C W_U)[a, t] W_U[a, t]
 *             over the block), atlas.token_mean [1, d_vocab] (W_U[t]·m)
 */
import { paramName, type ModelSpec } from '../model/spec';
import { GraphBuilder, type Value } from './builder';
import type { ModelProtoData } from './onnx-proto';
import { weightOps } from './weight-ops';
import type { WeightManifest } from './weights-file';

export const atlasIo = {
  rows: 'atlas.rows',
  k: 'atlas.k',
  directions: 'atlas.directions',
  topLogits: 'atlas.top_logits',
  topIds: 'atlas.top_ids',
  topProbs: 'atlas.top_probs',
  expectedLogit: 'atlas.expected_logit',
  logSumExp: 'atlas.log_sum_exp',
  tokenMean: 'atlas.token_mean',
  tokenInvStd: 'atlas.token_inv_std',
  topScores: 'atlas.top_scores',
  scores: 'atlas.scores',
  centre: 'atlas.centre',
  rowSum: 'atlas.row_sum',
  gram: 'atlas.gram',
  basis: 'atlas.basis',
  block: 'atlas.block',
  quad: 'atlas.quad',
} as const;

export type AtlasGraphKind = 'decode' | 'decode_z' | 'score' | 'moments' | 'token_moments';

/**
 * The final norm of each direction, as the lens applies it to the residual stream: the
 * RMS scaling (a temperature per neuron) and the learned gain (which re-weights channels
 * and can change rankings). LayerNorm also centres the direction, as it would any stream
 * it reads; its bias is left out, because it adds the same W_U b to every neuron's logits:
 * an offset that says nothing about the neuron and would put one set of tokens atop all.
 */
function finalNorm(g: GraphBuilder, spec: ModelSpec, w: (name: string) => Value, rows: Value): Value {
  const attrs = { axis: -1, epsilon: { float: spec.normEps }, stash_type: 1 };
  return spec.traits.norm === 'rms'
    ? g.op1('SimplifiedLayerNormalization', [rows, w(paramName.lnFinal())], { attrs })
    : g.op1('LayerNormalization', [rows, w(paramName.lnFinal()), g.constant('float32', [spec.dModel], new Array<number>(spec.dModel).fill(0), 'no_bias')], { attrs });
}

/** The family's soft-capping of the logits (Gemma 2: cap * tanh(z / cap)), as the forward pass applies it to its own. */
function capped(g: GraphBuilder, spec: ModelSpec, logits: Value, output?: string): Value {
  const cap = spec.traits.finalSoftcap;
  if (cap === null) return output ? g.op1('Identity', [logits], { output }) : logits;
  const capValue = g.constant('float32', [], [cap], 'final_softcap');
  return g.op1('Mul', [g.op1('Tanh', [g.op1('Div', [logits, capValue])]), capValue], { output });
}

export function buildAtlasGraph(spec: ModelSpec, manifest: WeightManifest, kind: AtlasGraphKind, applyNorm: boolean): ModelProtoData {
  const g = new GraphBuilder(`tiller-atlas-${kind}`);
  const { w, matmul } = weightOps(g, manifest);
  const rows = g.input(atlasIo.rows, 'float32', ['n', spec.dModel]);
  const head = (x: Value, output?: string): Value => matmul(x, paramName.unembed(), spec.dModel, output);
  const firstAxis = g.constant('int64', [1], [0], 'first_axis');
  if (kind === 'token_moments') {
    // Plain products with the head (no norm, no cap): the rows are already C's. W_U's rows
    // are read where they are stored as such (float32 [d_model, d_vocab]); packed quantized
    // blocks are read through the head, as the identity's rows times W_U.
    const unembedRows =
      manifest.weights.format === 'f32'
        ? g.op1('Gather', [w(paramName.unembed()), g.input(atlasIo.block, 'int64', ['n'])], { attrs: { axis: 0 } })
        : head(g.input(atlasIo.basis, 'float32', ['n', spec.dModel]));
    const centre = g.input(atlasIo.centre, 'float32', [1, spec.dModel]);
    const products = g.op1('Mul', [head(rows), unembedRows]);
    g.output(g.op1('ReduceSum', [products, firstAxis], { attrs: { keepdims: 1 }, output: atlasIo.quad }), 'float32', [1, spec.dVocab]);
    g.output(head(centre, atlasIo.tokenMean), 'float32', [1, spec.dVocab]);
    return g.toModel();
  }
  const directions = applyNorm ? finalNorm(g, spec, w, rows) : rows; // [n, d_model]
  if (kind === 'score') {
    const tokens = g.input(atlasIo.directions, 'float32', [spec.dModel, 'm']);
    g.output(capped(g, spec, g.op1('MatMul', [directions, tokens]), atlasIo.scores), 'float32', ['n', 'm']);
    return g.toModel();
  }
  if (kind === 'moments') {
    const centred = g.op1('Sub', [directions, g.input(atlasIo.centre, 'float32', [1, spec.dModel])]);
    g.output(g.op1('ReduceSum', [centred, firstAxis], { attrs: { keepdims: 1 }, output: atlasIo.rowSum }), 'float32', [1, spec.dModel]);
    g.output(g.op1('MatMul', [g.op1('Transpose', [centred], { attrs: { perm: [1, 0] } }), centred], { output: atlasIo.gram }), 'float32', [spec.dModel, spec.dModel]);
    return g.toModel();
  }
  const k = g.input(atlasIo.k, 'int64', [1]);
  const logits = capped(g, spec, head(directions)); // [n, d_vocab]
  const topOptions = { attrs: { axis: -1, largest: 1, sorted: 1 } };
  let topIds: Value;
  if (kind === 'decode_z') {
    const mean = g.input(atlasIo.tokenMean, 'float32', [1, spec.dVocab]);
    const invStd = g.input(atlasIo.tokenInvStd, 'float32', [1, spec.dVocab]);
    const scores = g.op1('Mul', [g.op1('Sub', [logits, mean]), invStd]);
    const [topScores, ids] = g.op('TopK', [scores, k], { ...topOptions, outputs: [atlasIo.topScores, atlasIo.topIds] });
    g.output(topScores, 'float32', ['n', 'k']);
    g.output(g.op1('GatherElements', [logits, ids], { attrs: { axis: -1 }, output: atlasIo.topLogits }), 'float32', ['n', 'k']);
    topIds = ids;
  } else {
    const [topLogits, ids] = g.op('TopK', [logits, k], { ...topOptions, outputs: [atlasIo.topLogits, atlasIo.topIds] });
    g.output(topLogits, 'float32', ['n', 'k']);
    topIds = ids;
  }
  g.output(topIds, 'int64', ['n', 'k']);
  // One softmax pass gives the rest: the kept tokens' probabilities, E_p[z] (so the entropy
  // is log-sum-exp - E_p[z]) and the log-sum-exp as max z - log max p (the most likely
  // token's probability is at least 1/d_vocab, so its log never underflows).
  const probs = g.op1('Softmax', [logits], { attrs: { axis: -1 } });
  g.output(g.op1('GatherElements', [probs, topIds], { attrs: { axis: -1 }, output: atlasIo.topProbs }), 'float32', ['n', 'k']);
  const lastAxis = g.constant('int64', [1], [-1], 'last_axis');
  const reduce = (op: string, x: Value, output?: string): Value => g.op1(op, [x, lastAxis], { attrs: { keepdims: 1 }, output });
  g.output(reduce('ReduceSum', g.op1('Mul', [probs, logits]), atlasIo.expectedLogit), 'float32', ['n', 1]);
  g.output(g.op1('Sub', [reduce('ReduceMax', logits), g.op1('Log', [reduce('ReduceMax', probs)])], { output: atlasIo.logSumExp }), 'float32', ['n', 1]);
  return g.toModel();
}
