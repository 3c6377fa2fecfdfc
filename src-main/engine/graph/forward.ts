/**
 * The decoder forward pass as an ONNX graph, built from the spec's traits (model/spec.ts)
 * for every family; no family is named here.
 *
 * Reads like llama2.c's forward(): embed (scaled, plus learned positions), then per block
 * norm -> q/k/v (+ per-head q/k norms) -> rotary -> grouped-query attention over the KV
 * cache (soft-capped scores; causal or sliding-window mask) -> o_proj (-> post-norm) ->
 * residual -> norm -> gated or plain MLP (-> post-norm) -> residual; then the final norm,
 * the unembedding and its soft cap. Hook sites carry their TransformerLens names, and
 * every value at a hook site is named after it.
 *
 * Graph inputs
 *   input_ids               int64   [batch, seq]
 *   position_ids            int64   [batch, seq]            absolute positions of the fed tokens
 *   past_key.{slot}         float32 [past, batch, n_kv_heads, d_head]  cached (rotated) keys, one slot per schedule position
 *   past_value.{slot}       float32 [past, batch, n_kv_heads, d_head]
 *   attention_mask          float32 [seq, past + seq]       0 where a query may attend, -inf elsewhere (causal)
 *   attention_mask.window.{W} float32 [seq, past + seq]     the same limited to the last W keys, for blocks with that window
 *   logits_positions        int64   [n_logits]              which fed positions get logits
 * Graph outputs
 *   logits                  float32 [batch, n_logits, d_vocab]
 *   new_key.{slot}          float32 [batch, seq, n_kv_heads * d_head]  (rotated) keys to append to the cache
 *   new_value.{slot}        float32 [batch, seq, n_kv_heads * d_head]
 *   capture.{hook}, lens heads, and the parameter inputs of a plan: see taps.ts
 */
import { graphInput, graphOutput } from '../graph-io';
import { expectedParams, paramName, slidingWindows, type ModelSpec, type WeightSource } from '../model/spec';
import type { WeightOptions } from '../model/weight-format';
import { GraphBuilder, MS_DOMAIN, type Value } from './builder';
import type { ModelProtoData } from './onnx-proto';
import { ropeTables } from './rope';
import { NO_TAPS, Taps, type TapSpec } from './taps';
import { computedTensor, quantizedLinear, storedTensor, transposedLinear } from './weight-groups';
import { weightOps } from './weight-ops';
import type { WeightGroup, WeightManifest } from './weights-file';

const ROPE_COS = 'rope.cos'; // [rows, rotary_dim / 2]  rows: graph/rope.ts ropeTables
const ROPE_SIN = 'rope.sin'; // [rows, rotary_dim / 2]
const ROPE_LOCAL_COS = 'rope_local.cos'; // [n_ctx, rotary_dim / 2]  sliding-window blocks with their own base (Gemma 3)
const ROPE_LOCAL_SIN = 'rope_local.sin';

/**
 * Every tensor the graph reads, in file order, converted from the checkpoint as the file
 * is written, under its canonical name (spec.ts): linear weights as float32 [in, out] for
 * MatMul or quantized for MatMulNBits; `unembed.weight` always (a copy of the embedding
 * when tied, so weight_delta can edit the head alone); the token embedding in float32, or
 * float16 when quantized; learned positions, gains and biases in float32; rotary tables.
 */
export function graphWeights(spec: ModelSpec, source: WeightSource, options: WeightOptions): WeightGroup[] {
  const linear = (param: string, from = param): WeightGroup =>
    options.format === 'f32' ? transposedLinear(param, source, from) : quantizedLinear(param, source, from, options);
  const groups: WeightGroup[] = [];
  for (const [param, shape] of expectedParams(spec)) {
    if (param === paramName.embed()) groups.push(storedTensor(param, source, param, options.format === 'f32' ? 'float32' : 'float16'));
    else if (shape.length === 2 && param !== paramName.posEmbed()) groups.push(linear(param));
    else groups.push(storedTensor(param, source, param, 'float32'));
  }
  if (spec.tiedEmbeddings) groups.push(linear(paramName.unembed(), paramName.embed()));
  if (spec.traits.positions === 'rotary') {
    const rope = ropeTables(spec);
    groups.push(computedTensor(ROPE_COS, [rope.rows, rope.half], () => rope.cos), computedTensor(ROPE_SIN, [rope.rows, rope.half], () => rope.sin));
    if (spec.traits.ropeLocalTheta !== null) {
      const local = ropeTables(spec, true);
      groups.push(computedTensor(ROPE_LOCAL_COS, [local.rows, local.half], () => local.cos), computedTensor(ROPE_LOCAL_SIN, [local.rows, local.half], () => local.sin));
    }
  }
  return groups;
}

export function buildForwardGraph(spec: ModelSpec, manifest: WeightManifest, tapSpec: TapSpec = NO_TAPS): ModelProtoData {
  const { dModel, dHead, nHeads, nKvHeads, dMlp, dVocab, normEps, traits } = spec;
  const taps = new Taps(tapSpec);
  const schedule = tapSpec.schedule ?? Array.from({ length: spec.nLayers }, (_, layer) => layer);
  const g = new GraphBuilder(`tiller-${spec.family}`);
  // Each weight is declared once, however often a schedule or a lens head reads it.
  const { w, matmul } = weightOps(g, manifest);
  /**
   * x W (+ b): every linear layer goes through here. `param` is the canonical name without
   * `.weight` (e.g. blocks.2.mlp.down_proj). Each low-rank edit of the weight (weight_delta)
   * adds (x V^T) U, so the graph runs W + sum U^T V without touching W: a quantized W needs
   * no re-quantization and an edit costs O(rank) per token.
   */
  const linear = (x: Value, param: string, inFeatures: number, hasBias: boolean, output: string): Value => {
    const deltas = taps.deltas(param);
    const last = deltas.length === 0 && !hasBias;
    let y = matmul(x, `${param}.weight`, inFeatures, last ? output : undefined);
    deltas.forEach(({ index }, i) => {
      const name = (part: string): string => graphInput.intervention(index, part);
      const v = g.parameter(name('v'), 'float32', ['batch', name('in'), name('rank')]);
      const u = g.parameter(name('u'), 'float32', ['batch', name('rank'), name('out')]);
      y = g.op1('Add', [y, g.op1('MatMul', [g.op1('MatMul', [x, v]), u])], { output: i === deltas.length - 1 && !hasBias ? output : undefined });
    });
    return hasBias ? g.op1('Add', [y, w(`${param}.bias`)], { output }) : y;
  };
  // RMSNorm: x / rms(x) * g; LayerNorm: (x - mean) / std * g + b. `gain` is the canonical weight name.
  // One fused op, unless a plan reads or changes the norm's scale (`scaleHook`), which it keeps inside:
  // then the scale sqrt(mean(x^2) + eps) (x centred first by LayerNorm) is computed, tapped, and divided by.
  const meanOverLast = (x: Value): Value => g.op1('ReduceMean', [x, g.constant('int64', [1], [-1], 'last_axis')], { attrs: { keepdims: 1 } });
  const norm = (x: Value, gain: string, output?: string, scaleHook?: string): Value => {
    const bias = traits.norm === 'layer' ? [w(paramName.bias(gain))] : [];
    if (scaleHook === undefined || !taps.touches(scaleHook)) {
      const fused = traits.norm === 'rms' ? 'SimplifiedLayerNormalization' : 'LayerNormalization';
      return g.op1(fused, [x, w(gain), ...bias], { attrs: { axis: -1, epsilon: { float: normEps }, stash_type: 1 }, output });
    }
    const centred = traits.norm === 'rms' ? x : g.op1('Sub', [x, meanOverLast(x)]);
    const eps = g.constant('float32', [], [normEps], 'norm_eps');
    const scale = taps.tap(g, scaleHook, g.op1('Sqrt', [g.op1('Add', [meanOverLast(g.op1('Mul', [centred, centred])), eps])], { output: g.unique(scaleHook) })); // [batch, pos, 1]
    const scaled = g.op1('Mul', [g.op1('Div', [centred, scale]), w(gain)], { output: bias.length === 0 ? output : undefined });
    return bias.length === 0 ? scaled : g.op1('Add', [scaled, ...bias], { output });
  };
  // residual + delta, then the norm of the sum; returns [normed, residual]. One fused op unless a
  // plan changes the residual there in a way the fused op would hide, or reads or changes the
  // norm's scale; steering adds fold into its skip input (Taps.foldedAdds), so a plan of adds keeps it fused.
  const residualThenNorm = (delta: Value, residual: Value, gain: string, residualHooks: string[], normedHook: string, scaleHook: string): [Value, Value] => {
    const folded = taps.touches(scaleHook) ? null : taps.foldedAdds(g, residualHooks);
    if (folded === null) {
      let sum = g.op1('Add', [delta, residual], { output: g.unique(residualHooks[0]) });
      for (const hook of residualHooks) sum = taps.tap(g, hook, sum);
      return [taps.tap(g, normedHook, norm(sum, gain, g.unique(normedHook), scaleHook)), sum];
    }
    const skip = folded.reduce((steered, term) => g.op1('Add', [steered, term]), residual);
    const fused = traits.norm === 'rms' ? 'SkipSimplifiedLayerNormalization' : 'SkipLayerNormalization';
    const gains = traits.norm === 'rms' ? [w(gain)] : [w(gain), w(paramName.bias(gain))];
    const [normed, sum] = g.op(fused, [delta, skip, ...gains], {
      domain: MS_DOMAIN,
      attrs: { epsilon: { float: normEps } },
      outputs: [g.unique(normedHook), null, null, g.unique(residualHooks[0])],
    });
    for (const hook of residualHooks) taps.observe(hook, sum);
    return [taps.tap(g, normedHook, normed), sum];
  };
  // q.k (scaled) + mask: TransformerLens's attn.hook_attn_scores. An edit there is followed by the
  // mask again (-inf wherever the mask is), so no edit lets a query see a key the mask hides and
  // no -inf arithmetic (an edit's -inf * 0) reaches the softmax as NaN.
  const attentionScores = (qk: Value, mask: Value, scoresHook: string): Value => {
    const masked = taps.tap(g, scoresHook, g.op1('Add', [qk, mask], { output: g.unique(scoresHook) }), 'pattern');
    if (!taps.changes(scoresHook)) return masked;
    return g.op1('Where', [g.op1('IsInf', [mask], { attrs: { detect_positive: 0 } }), mask, masked]);
  };
  // cap * tanh(x / cap): Gemma 2's soft-capping of attention scores and of the logits.
  const softcap = (x: Value, cap: number, output?: string): Value => {
    const capValue = g.constant('float32', [], [cap], g.fresh('softcap'));
    return g.op1('Mul', [g.op1('Tanh', [g.op1('Div', [x, capValue])]), capValue], { output });
  };
  // The unembedding (with its weight_delta edits), soft-capped where the family caps its logits.
  const unembed = (x: Value, output: string): Value =>
    traits.finalSoftcap === null ? linear(x, 'unembed', dModel, false, output) : softcap(linear(x, 'unembed', dModel, false, g.fresh('unembed')), traits.finalSoftcap, output);
  const activation = (x: Value): Value => {
    switch (traits.activation) {
      case 'silu':
        return g.op1('Mul', [x, g.op1('Sigmoid', [x])]);
      case 'gelu':
        return g.op1('Gelu', [x]);
      case 'gelu_tanh':
        return g.op1('Gelu', [x], { attrs: { approximate: 'tanh' } });
    }
  };

  const inputIds = g.input(graphInput.inputIds, 'int64', ['batch', 'seq']);
  const positionIds = g.input(graphInput.positionIds, 'int64', ['batch', 'seq']);
  const attentionMask = g.input(graphInput.attentionMask, 'float32', ['seq', 'key_pos']);
  // One mask per window size, declared whether or not a schedule runs a block that reads it (the runtime feeds them all).
  const windowMasks = new Map(slidingWindows(spec).map((window) => [window, g.input(graphInput.windowMask(window), 'float32', ['seq', 'key_pos'])] as const));
  // A sliding-window block sees only the last `window` keys (runtime/kv-cache.ts causalMask).
  const maskOf = (window: number | null): Value => {
    const mask = window === null ? attentionMask : windowMasks.get(window);
    if (!mask) throw new Error(`no attention mask for window ${window}`);
    return mask;
  };
  const logitsPositions = g.input(graphInput.logitsPositions, 'int64', ['n_logits']);
  const rotaryPositions = traits.positions === 'rotary';
  // The rows of the rotary tables each position reads: its own, except that LongRoPE (Phi-3)
  // switches every position to the long-factor rows (from row originalMaxPositions on) once
  // the sequence is longer than originalMaxPositions, i.e. its largest position reaches it.
  const ropeRows = ((): Value => {
    if (spec.ropeScaling?.type !== 'longrope') return positionIds;
    const switchAt = spec.ropeScaling.originalMaxPositions;
    const long = g.op1('Greater', [g.op1('ReduceMax', [positionIds], { attrs: { keepdims: 0 } }), g.constant('int64', [], [switchAt - 1], 'rope_switch')]);
    return g.op1('Add', [positionIds, g.op1('Mul', [g.op1('Cast', [long], { attrs: { to: 7 } }), g.constant('int64', [], [switchAt], 'rope_long_rows')])]);
  })();
  // Partial rotary (partial_rotary_factor): only the first rotaryDim dims of each head turn.
  const partialRotary: Record<string, number> = traits.rotaryDim === null ? {} : { rotary_embedding_dim: traits.rotaryDim };
  const group = nHeads / nKvHeads;
  const kvHeadsShape = g.constant('int64', [4], [0, 0, nKvHeads, dHead], 'kv_heads_shape');
  const qHeadsShape = g.constant('int64', [4], [0, 0, nHeads, dHead], 'q_heads_shape');
  const groupedHeadsShape = g.constant('int64', [5], [0, 0, nKvHeads, group, dHead], 'grouped_heads_shape');
  const flatHeadsShape = g.constant('int64', [3], [0, 0, nHeads * dHead], 'flat_heads_shape');
  const flatKvHeadsShape = g.constant('int64', [3], [0, 0, nKvHeads * dHead], 'flat_kv_heads_shape');
  const axis2 = g.constant('int64', [1], [2], 'axis2');
  const attnScale = g.constant('float32', [], [traits.attnScale], 'attn_scale');

  // A float16 table (quantized models) is gathered, then widened: the residual stream stays float32.
  // Gemma multiplies the rows by sqrt(d_model) (traits.embedScale); hook_embed is the scaled row, as in TransformerLens.
  const scaled = traits.embedScale !== 1;
  const rows = g.op1('Gather', [w(paramName.embed()), inputIds], { attrs: { axis: 0 }, output: manifest.weights.format === 'f32' && !scaled ? 'hook_embed' : g.fresh('embed_rows') });
  const widened = manifest.weights.format === 'f32' ? rows : g.op1('Cast', [rows], { attrs: { to: 1 }, output: scaled ? g.fresh('embed_f32') : 'hook_embed' });
  const embedded = scaled ? g.op1('Mul', [widened, g.constant('float32', [], [traits.embedScale], 'embed_scale')], { output: 'hook_embed' }) : widened;
  let embed = taps.tap(g, 'hook_embed', embedded); // [batch, pos, d_model]
  if (!rotaryPositions) {
    const posEmbed = taps.tap(g, 'hook_pos_embed', g.op1('Gather', [w(paramName.posEmbed()), positionIds], { attrs: { axis: 0 }, output: 'hook_pos_embed' })); // [batch, pos, d_model]
    embed = g.op1('Add', [embed, posEmbed]);
  }
  taps.enterBlocks(embed);
  let residPre = taps.tap(g, `blocks.${schedule[0]}.hook_resid_pre`, embed);
  const ln1Hook = `blocks.${schedule[0]}.ln1.hook_normalized`;
  let normed = taps.tap(g, ln1Hook, norm(residPre, paramName.ln1(schedule[0]), ln1Hook, `blocks.${schedule[0]}.ln1.hook_scale`)); // [batch, pos, d_model]

  // One KV-cache slot per schedule position: a block that runs twice sees different inputs each time.
  for (const [slot, layer] of schedule.entries()) {
    const hook = (name: string): string => `blocks.${layer}.${name}`;
    const at = (name: string, value: Value, layout?: 'rows' | 'pattern'): Value => taps.tap(g, hook(name), value, layout);
    const named = (name: string): string => g.unique(hook(name));
    const block = (name: string): string => `blocks.${layer}.${name}`;
    const pastKey = g.input(graphInput.pastKey(slot), 'float32', ['past', 'batch', nKvHeads, dHead]);
    const pastValue = g.input(graphInput.pastValue(slot), 'float32', ['past', 'batch', nKvHeads, dHead]);
    const mask = maskOf(traits.slidingWindow[layer]); // [seq, key_pos]
    // Sandwich norms (Gemma): the attention and MLP outputs are normed before each residual add.
    const postNorm = (x: Value, site: 'ln1_post' | 'ln2_post', gain: string): Value =>
      at(`${site}.hook_normalized`, norm(x, gain, named(`${site}.hook_normalized`), hook(`${site}.hook_scale`)));

    // Attention
    const q = at('attn.hook_q', linear(normed, block('attn.q_proj'), dModel, traits.qkvBias, named('attn.hook_q'))); // [batch, pos, n_heads * d_head]
    const k = at('attn.hook_k', linear(normed, block('attn.k_proj'), dModel, traits.qkvBias, named('attn.hook_k'))); // [batch, pos, n_kv_heads * d_head]
    const v = at('attn.hook_v', linear(normed, block('attn.v_proj'), dModel, traits.qkvBias, named('attn.hook_v'))); // [batch, pos, n_kv_heads * d_head]
    // Per-head RMSNorm of q and k (Qwen3, Gemma 3): each head's d_head values normalised on their own.
    const headNorm = (x: Value, headsShape: Value, flatShape: Value, gain: string, name: string): Value =>
      at(name, g.op1('Reshape', [norm(g.op1('Reshape', [x, headsShape]), gain), flatShape], { output: named(name) }));
    const qNormed = traits.qkNorm ? headNorm(q, qHeadsShape, flatHeadsShape, paramName.qNorm(layer), 'attn.q_norm.hook_normalized') : q;
    const kNormed = traits.qkNorm ? headNorm(k, kvHeadsShape, flatKvHeadsShape, paramName.kNorm(layer), 'attn.k_norm.hook_normalized') : k;
    // Sliding-window blocks of a model with a second rotary base (Gemma 3) rotate with their own tables.
    const local = traits.ropeLocalTheta !== null && traits.slidingWindow[layer] !== null;
    const [cos, sin, rows] = local ? [ROPE_LOCAL_COS, ROPE_LOCAL_SIN, positionIds] : [ROPE_COS, ROPE_SIN, ropeRows];
    const rotary = (x: Value, heads: number, name: string): Value =>
      at(name, g.op1('RotaryEmbedding', [x, rows, w(cos), w(sin)], { domain: MS_DOMAIN, attrs: { interleaved: 0, num_heads: heads, ...partialRotary }, output: named(name) }));
    const qRot = rotaryPositions ? rotary(qNormed, nHeads, 'attn.hook_rot_q') : qNormed;
    const kRot = rotaryPositions ? rotary(kNormed, nKvHeads, 'attn.hook_rot_k') : kNormed;
    g.output(g.op1('Identity', [kRot], { output: graphOutput.newKey(slot) }), 'float32', ['batch', 'seq', nKvHeads * dHead]);
    g.output(g.op1('Identity', [v], { output: graphOutput.newValue(slot) }), 'float32', ['batch', 'seq', nKvHeads * dHead]);
    // softmax(q k^T * scale + mask) v over cached and new positions; query head h
    // reads KV head h / group (Hugging Face repeat_kv), done by grouping query heads per KV head.
    const kAll = g.op1('Concat', [g.op1('Transpose', [pastKey], { attrs: { perm: [1, 0, 2, 3] } }), g.op1('Reshape', [kRot, kvHeadsShape])], { attrs: { axis: 1 } }); // [batch, key_pos, n_kv_heads, d_head]
    const vAll = g.op1('Concat', [g.op1('Transpose', [pastValue], { attrs: { perm: [1, 0, 2, 3] } }), g.op1('Reshape', [v, kvHeadsShape])], { attrs: { axis: 1 } });
    const kT = g.op1('Unsqueeze', [g.op1('Transpose', [kAll], { attrs: { perm: [0, 2, 3, 1] } }), axis2]); // [batch, n_kv_heads, 1, d_head, key_pos]
    const vByHead = g.op1('Unsqueeze', [g.op1('Transpose', [vAll], { attrs: { perm: [0, 2, 1, 3] } }), axis2]); // [batch, n_kv_heads, 1, key_pos, d_head]
    const qGrouped = g.op1('Transpose', [g.op1('Reshape', [g.op1('Mul', [qRot, attnScale]), groupedHeadsShape])], { attrs: { perm: [0, 2, 3, 1, 4] } }); // [batch, n_kv_heads, group, pos, d_head]
    const qk = g.op1('MatMul', [qGrouped, kT]); // [batch, n_kv_heads, group, pos, key_pos]
    const scores = attentionScores(traits.attnSoftcap === null ? qk : softcap(qk, traits.attnSoftcap), mask, hook('attn.hook_attn_scores')); // soft cap, then the mask
    const pattern = at('attn.hook_pattern', g.op1('Softmax', [scores], { attrs: { axis: -1 }, output: named('attn.hook_pattern') }), 'pattern'); // grouped: head = kv_head * group + g
    const zGrouped = g.op1('MatMul', [pattern, vByHead]); // [batch, n_kv_heads, group, pos, d_head]
    const z = at('attn.hook_z', g.op1('Reshape', [g.op1('Transpose', [zGrouped], { attrs: { perm: [0, 3, 1, 2, 4] } }), flatHeadsShape], { output: named('attn.hook_z') })); // [batch, pos, n_heads * d_head]
    const attnOut = at(
      'hook_attn_out',
      traits.sandwichNorms
        ? postNorm(linear(z, block('attn.o_proj'), nHeads * dHead, traits.oBias, g.fresh(block('attn.o_proj'))), 'ln1_post', paramName.ln1Post(layer))
        : linear(z, block('attn.o_proj'), nHeads * dHead, traits.oBias, named('hook_attn_out')),
    ); // [batch, pos, d_model]
    const [normed2, residMid] = residualThenNorm(attnOut, residPre, paramName.ln2(layer), [hook('hook_resid_mid')], hook('ln2.hook_normalized'), hook('ln2.hook_scale'));

    // MLP: gated down(act(gate(x)) * up(x)), or plain down(act(up(x))); hook_pre is the activation's input either way.
    let post: Value; // [batch, pos, d_mlp]
    if (traits.mlp === 'gated') {
      const gate = at('mlp.hook_pre', linear(normed2, block('mlp.gate_proj'), dModel, traits.mlpBias, named('mlp.hook_pre'))); // [batch, pos, d_mlp]
      const up = at('mlp.hook_pre_linear', linear(normed2, block('mlp.up_proj'), dModel, traits.mlpBias, named('mlp.hook_pre_linear'))); // [batch, pos, d_mlp]
      post = at('mlp.hook_post', g.op1('Mul', [activation(gate), up], { output: named('mlp.hook_post') }));
    } else {
      const pre = at('mlp.hook_pre', linear(normed2, block('mlp.up_proj'), dModel, traits.mlpBias, named('mlp.hook_pre'))); // [batch, pos, d_mlp]
      post = at('mlp.hook_post', g.op1('Identity', [activation(pre)], { output: named('mlp.hook_post') }));
    }
    const mlpOut = at(
      'hook_mlp_out',
      traits.sandwichNorms
        ? postNorm(linear(post, block('mlp.down_proj'), dMlp, traits.mlpBias, g.fresh(block('mlp.down_proj'))), 'ln2_post', paramName.ln2Post(layer))
        : linear(post, block('mlp.down_proj'), dMlp, traits.mlpBias, named('hook_mlp_out')),
    ); // [batch, pos, d_model]

    // Residual add, fused with the norm that reads it next: the next block's ln1 or ln_final.
    const next = schedule[slot + 1];
    const nextGain = next === undefined ? paramName.lnFinal() : paramName.ln1(next);
    const nextNorm = next === undefined ? 'ln_final' : `blocks.${next}.ln1`;
    const residualHooks = next === undefined ? [hook('hook_resid_post')] : [hook('hook_resid_post'), `blocks.${next}.hook_resid_pre`];
    [normed, residPre] = residualThenNorm(mlpOut, residMid, nextGain, residualHooks, `${nextNorm}.hook_normalized`, `${nextNorm}.hook_scale`);
  }
  const finalResidual = residPre; // output of the last block run, before ln_final

  // Unembed only the requested positions: prefill needs one row of logits, not seq rows.
  const atLogitsPositions = (x: Value, output?: string): Value => g.op1('Gather', [x, logitsPositions], { attrs: { axis: 1 }, output }); // [batch, n_logits, width]
  const changed = taps.changes('logits'); // then the output is the changed value, renamed
  const unembedIn = taps.tap(g, 'unembed.hook_in', atLogitsPositions(normed, g.unique('unembed.hook_in'))); // [batch, n_logits, d_model]
  let logits = taps.tap(g, 'logits', unembed(unembedIn, changed ? g.fresh(graphOutput.logits) : graphOutput.logits)); // [batch, n_logits, d_vocab]
  if (changed) logits = g.op1('Identity', [logits], { output: graphOutput.logits });
  g.output(logits, 'float32', ['batch', 'n_logits', dVocab]);

  // Lens heads: the same unembedding (with its edits) applied to an intermediate hook (logit lens, LFD, DoLa).
  for (const lens of tapSpec.lenses) {
    let h = atLogitsPositions(taps.valueOf(lens.hook));
    if (lens.fuse) {
      const lambda = g.input(`${lens.name}.lambda`, 'float32', ['batch', 1, 1]);
      h = g.op1('Add', [atLogitsPositions(finalResidual), g.op1('Mul', [lambda, h])]);
    }
    if (lens.finalNorm) h = norm(h, paramName.lnFinal());
    if (lens.argmax) g.output(g.op1('ArgMax', [unembed(h, g.fresh(lens.name))], { attrs: { axis: -1, keepdims: 0 }, output: lens.name }), 'int64', ['batch', 'n_logits']);
    else g.output(unembed(h, lens.name), 'float32', ['batch', 'n_logits', dVocab]);
  }
  taps.finish(g);
  return g.toModel();
}
