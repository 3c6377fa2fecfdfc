/**
 * The neuron atlas as graphs over the model's weight file (METHODS.md 5): MLP neuron
 * directions [n, d_model] (up/gate rows, down columns; analysis/atlas.ts reads them) go
 * through the final norm and the unembedding in one batched product, and only what the
 * atlas keeps leaves the graph: the top k logits per neuron (TopK), their probabilities,
 * and the mean logit under the decoded distribution (for its entropy). A second graph scores the same directions
 * against a few token directions (the unembedding columns of searched tokens).
 *
 *   decode  atlas.rows [n, d_model], atlas.k int64 [1] -> atlas.top_logits [n, k], atlas.top_ids int64 [n, k],
 *                                                        atlas.top_probs [n, k], atlas.expected_logit [n, 1] (E_p[z])
 *   score   atlas.rows [n, d_model], atlas.directions [d_model, m] -> atlas.scores [n, m]
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
  scores: 'atlas.scores',
} as const;

export type AtlasGraphKind = 'decode' | 'score';

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
  const directions = applyNorm ? finalNorm(g, spec, w, rows) : rows; // [n, d_model]
  if (kind === 'score') {
    const tokens = g.input(atlasIo.directions, 'float32', [spec.dModel, 'm']);
    g.output(capped(g, spec, g.op1('MatMul', [directions, tokens]), atlasIo.scores), 'float32', ['n', 'm']);
    return g.toModel();
  }
  const k = g.input(atlasIo.k, 'int64', [1]);
  const logits = capped(g, spec, matmul(directions, paramName.unembed(), spec.dModel)); // [n, d_vocab]
  const [topLogits, topIds] = g.op('TopK', [logits, k], { attrs: { axis: -1, largest: 1, sorted: 1 }, outputs: [atlasIo.topLogits, atlasIo.topIds] });
  g.output(topLogits, 'float32', ['n', 'k']);
  g.output(topIds, 'int64', ['n', 'k']);
  // One softmax pass gives the rest: the top tokens' probabilities (so log-sum-exp =
  // top logit - log top probability, without a second exponentiation of the row) and
  // E_p[z] (so the entropy is log-sum-exp - E_p[z]).
  const probs = g.op1('Softmax', [logits], { attrs: { axis: -1 } });
  g.output(g.op1('GatherElements', [probs, topIds], { attrs: { axis: -1 }, output: atlasIo.topProbs }), 'float32', ['n', 'k']);
  const lastAxis = g.constant('int64', [1], [-1], 'last_axis');
  g.output(g.op1('ReduceSum', [g.op1('Mul', [probs, logits]), lastAxis], { attrs: { keepdims: 1 }, output: atlasIo.expectedLogit }), 'float32', ['n', 1]);
  return g.toModel();
}
