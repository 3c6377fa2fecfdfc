/**
 * The Llama family forward pass as an ONNX graph (Llama 2/3, TinyLlama, SmolLM, Mistral).
 *
 * Reads like llama2.c's forward(): embed, then per block RMSNorm -> q/k/v -> rotary ->
 * grouped-query attention over the KV cache -> o_proj -> residual -> RMSNorm -> SwiGLU
 * MLP -> residual; then the final norm and the unembedding. Hook sites carry their
 * TransformerLens names, and every value at a hook site is named after it.
 *
 * Graph inputs
 *   input_ids               int64   [batch, seq]
 *   position_ids            int64   [batch, seq]            absolute positions of the fed tokens
 *   past_key.{slot}         float32 [past, batch, n_kv_heads, d_head]  cached rotated keys, one slot per schedule position
 *   past_value.{slot}       float32 [past, batch, n_kv_heads, d_head]
 *   attention_mask          float32 [seq, past + seq]       0 where a query may attend, -inf elsewhere (causal)
 *   logits_positions        int64   [n_logits]              which fed positions get logits
 * Graph outputs
 *   logits                  float32 [batch, n_logits, d_vocab]
 *   new_key.{slot}          float32 [batch, seq, n_kv_heads * d_head]  rotated keys to append to the cache
 *   new_value.{slot}        float32 [batch, seq, n_kv_heads * d_head]
 *   capture.{hook}, lens heads, and the parameter inputs of a plan: see taps.ts
 */
import type { ModelSpec, WeightSource } from '../model/spec';
import { paramName } from '../model/spec';
import type { WeightOptions } from '../model/weight-format';
import { GraphBuilder, MS_DOMAIN, type Value } from './builder';
import type { ModelProtoData } from './onnx-proto';
import { ropeTables } from './rope';
import { NO_TAPS, Taps, type TapSpec } from './taps';
import { computedTensor, matMulNBitsAttributes, quantizedLinear, quantizedNames, storedTensor, transposedLinear } from './weight-groups';
import type { WeightGroup, WeightManifest } from './weights-file';

/** Graph-layout weight names: linear weights are stored transposed ([in, out]) for MatMul. */
const weightName = {
  embed: 'embed.W_E', // [d_vocab, d_model]
  ln1: (l: number) => `blocks.${l}.ln1.w`, // [d_model]
  q: (l: number) => `blocks.${l}.attn.W_Q`, // [d_model, n_heads * d_head]
  k: (l: number) => `blocks.${l}.attn.W_K`, // [d_model, n_kv_heads * d_head]
  v: (l: number) => `blocks.${l}.attn.W_V`, // [d_model, n_kv_heads * d_head]
  o: (l: number) => `blocks.${l}.attn.W_O`, // [n_heads * d_head, d_model]
  ln2: (l: number) => `blocks.${l}.ln2.w`, // [d_model]
  gate: (l: number) => `blocks.${l}.mlp.W_gate`, // [d_model, d_mlp]
  up: (l: number) => `blocks.${l}.mlp.W_in`, // [d_model, d_mlp]
  down: (l: number) => `blocks.${l}.mlp.W_out`, // [d_mlp, d_model]
  lnFinal: 'ln_final.w', // [d_model]
  unembed: 'unembed.W_U', // [d_model, d_vocab]
  ropeCos: 'rope.cos', // [n_ctx, d_head / 2]
  ropeSin: 'rope.sin', // [n_ctx, d_head / 2]
};

/**
 * Every tensor the graph reads, in file order, converted from the checkpoint as the file
 * is written: linear layers (the head included) as float32 [in, out] for MatMul or
 * quantized for MatMulNBits, the embedding table in float32, or float16 when quantized.
 */
export function llamaGraphWeights(spec: ModelSpec, source: WeightSource, options: WeightOptions): WeightGroup[] {
  const linear = (name: string, param: string): WeightGroup =>
    options.format === 'f32' ? transposedLinear(name, source, param) : quantizedLinear(name, source, param, options);
  const vector = (name: string, param: string): WeightGroup => storedTensor(name, source, param, 'float32');
  const rope = ropeTables(spec, spec.nCtx);

  const groups: WeightGroup[] = [storedTensor(weightName.embed, source, paramName.embed(), options.format === 'f32' ? 'float32' : 'float16')];
  for (let l = 0; l < spec.nLayers; l++) {
    groups.push(
      vector(weightName.ln1(l), paramName.ln1(l)),
      linear(weightName.q(l), paramName.q(l)),
      linear(weightName.k(l), paramName.k(l)),
      linear(weightName.v(l), paramName.v(l)),
      linear(weightName.o(l), paramName.o(l)),
      vector(weightName.ln2(l), paramName.ln2(l)),
      linear(weightName.gate(l), paramName.gate(l)),
      linear(weightName.up(l), paramName.up(l)),
      linear(weightName.down(l), paramName.down(l)),
    );
  }
  groups.push(
    vector(weightName.lnFinal, paramName.lnFinal()),
    linear(weightName.unembed, spec.tiedEmbeddings ? paramName.embed() : paramName.unembed()),
    computedTensor(weightName.ropeCos, [spec.nCtx, spec.dHead / 2], () => rope.cos),
    computedTensor(weightName.ropeSin, [spec.nCtx, spec.dHead / 2], () => rope.sin),
  );
  return groups;
}

export function buildLlamaGraph(spec: ModelSpec, manifest: WeightManifest, tapSpec: TapSpec = NO_TAPS): ModelProtoData {
  const taps = new Taps(tapSpec);
  const { dModel, dHead, nHeads, nKvHeads, dVocab, normEps } = spec;
  const schedule = tapSpec.schedule ?? Array.from({ length: spec.nLayers }, (_, layer) => layer);
  const g = new GraphBuilder('tiller-llama');
  // Each weight is declared once, however often a schedule or a lens head reads it.
  const declared = new Map<string, Value>();
  const w = (name: string): Value => {
    const entry = manifest.tensors[name];
    if (!entry) throw new Error(`weight file lacks ${name}`);
    let value = declared.get(name);
    if (!value) declared.set(name, (value = g.external(name, entry.elemType, entry.dims, { location: manifest.file, offset: entry.offset, length: entry.length })));
    return value;
  };
  // x W for a linear weight with `inFeatures` inputs: MatMul on float32 [in, out], or
  // MatMulNBits on the quantized [out, in] blocks (graph/quantize.ts).
  const { weights: stored } = manifest;
  const matmul = (x: Value, weight: string, inFeatures: number, output?: string): Value => {
    if (stored.format === 'f32') return g.op1('MatMul', [x, w(weight)], { output });
    const names = quantizedNames(weight);
    const outFeatures = manifest.tensors[names.data]?.dims[0] ?? 0;
    const layout = { rows: outFeatures, cols: inFeatures, bits: stored.format === 'int8' ? 8 : 4, blockSize: stored.blockSize } as const;
    return g.op1('MatMulNBits', [x, w(names.data), w(names.scales), w(names.zeroPoints)], { domain: MS_DOMAIN, attrs: matMulNBitsAttributes(layout, stored.accuracyLevel), output });
  };
  // x W, plus (x V^T) U for each low-rank edit of this weight (weight_delta): W + sum U^T V without
  // touching W, so a quantized W needs no re-quantization and an edit costs O(rank) per token.
  const linear = (x: Value, weight: string, inFeatures: number, param: string, output: string): Value => {
    const deltas = taps.deltas(param);
    let y = matmul(x, weight, inFeatures, deltas.length === 0 ? output : undefined);
    deltas.forEach(({ prefix }, i) => {
      const v = g.parameter(`${prefix}.v`, 'float32', ['batch', `${prefix}.in`, `${prefix}.rank`]);
      const u = g.parameter(`${prefix}.u`, 'float32', ['batch', `${prefix}.rank`, `${prefix}.out`]);
      y = g.op1('Add', [y, g.op1('MatMul', [g.op1('MatMul', [x, v]), u])], { output: i === deltas.length - 1 ? output : undefined });
    });
    return y;
  };
  const rmsNorm = (x: Value, gamma: Value, output?: string): Value =>
    g.op1('SimplifiedLayerNormalization', [x, gamma], { attrs: { axis: -1, epsilon: { float: normEps }, stash_type: 1 }, output });
  // residual + delta, then RMSNorm of the sum; returns [normed, residual]. One fused op unless a
  // plan changes the residual there, which the fused op would hide.
  const residualThenNorm = (delta: Value, residual: Value, gamma: Value, residualHooks: string[], normedHook: string): [Value, Value] => {
    if (residualHooks.some((hook) => taps.changes(hook))) {
      let sum = g.op1('Add', [delta, residual], { output: g.unique(residualHooks[0]) });
      for (const hook of residualHooks) sum = taps.tap(g, hook, sum);
      return [taps.tap(g, normedHook, rmsNorm(sum, gamma, g.unique(normedHook))), sum];
    }
    const [normed, sum] = g.op('SkipSimplifiedLayerNormalization', [delta, residual, gamma], {
      domain: MS_DOMAIN,
      attrs: { epsilon: { float: normEps } },
      outputs: [g.unique(normedHook), null, null, g.unique(residualHooks[0])],
    });
    for (const hook of residualHooks) taps.tap(g, hook, sum); // observed only: nothing changes here
    return [taps.tap(g, normedHook, normed), sum];
  };

  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'float32', ['seq', 'key_pos']);
  const logitsPositions = g.input('logits_positions', 'int64', ['n_logits']);
  const ropeCos = w(weightName.ropeCos);
  const ropeSin = w(weightName.ropeSin);
  const group = nHeads / nKvHeads;
  const kvHeadsShape = g.constant('int64', [4], [0, 0, nKvHeads, dHead], 'kv_heads_shape');
  const groupedHeadsShape = g.constant('int64', [5], [0, 0, nKvHeads, group, dHead], 'grouped_heads_shape');
  const flatHeadsShape = g.constant('int64', [3], [0, 0, nHeads * dHead], 'flat_heads_shape');
  const axis2 = g.constant('int64', [1], [2], 'axis2');
  const attnScale = g.constant('float32', [], [1 / Math.sqrt(dHead)], 'attn_scale');

  // A float16 table (quantized models) is gathered, then widened: the residual stream stays float32.
  const embedTable = w(weightName.embed);
  const embedRows = (output: string): Value => g.op1('Gather', [embedTable, inputIds], { attrs: { axis: 0 }, output });
  const embedded = stored.format === 'f32' ? embedRows('hook_embed') : g.op1('Cast', [embedRows(g.fresh('embed_f16'))], { attrs: { to: 1 }, output: 'hook_embed' });
  const embed = taps.tap(g, 'hook_embed', embedded); // [batch, pos, d_model]
  let residPre = taps.tap(g, `blocks.${schedule[0]}.hook_resid_pre`, embed);
  const ln1Hook = `blocks.${schedule[0]}.ln1.hook_normalized`;
  let normed = taps.tap(g, ln1Hook, rmsNorm(residPre, w(weightName.ln1(schedule[0])), ln1Hook)); // [batch, pos, d_model]

  // One KV-cache slot per schedule position: a block that runs twice sees different inputs each time.
  for (const [slot, layer] of schedule.entries()) {
    const hook = (name: string): string => `blocks.${layer}.${name}`;
    const at = (name: string, value: Value, layout?: 'rows' | 'pattern'): Value => taps.tap(g, hook(name), value, layout);
    const named = (name: string): string => g.unique(hook(name));
    const pastKey = g.input(`past_key.${slot}`, 'float32', ['past', 'batch', nKvHeads, dHead]);
    const pastValue = g.input(`past_value.${slot}`, 'float32', ['past', 'batch', nKvHeads, dHead]);

    // Attention
    const q = at('attn.hook_q', linear(normed, weightName.q(layer), dModel, `blocks.${layer}.attn.q_proj`, named('attn.hook_q'))); // [batch, pos, n_heads * d_head]
    const k = at('attn.hook_k', linear(normed, weightName.k(layer), dModel, `blocks.${layer}.attn.k_proj`, named('attn.hook_k'))); // [batch, pos, n_kv_heads * d_head]
    const v = at('attn.hook_v', linear(normed, weightName.v(layer), dModel, `blocks.${layer}.attn.v_proj`, named('attn.hook_v'))); // [batch, pos, n_kv_heads * d_head]
    const rotary = (x: Value, heads: number, name: string): Value =>
      at(name, g.op1('RotaryEmbedding', [x, positionIds, ropeCos, ropeSin], { domain: MS_DOMAIN, attrs: { interleaved: 0, num_heads: heads }, output: named(name) }));
    const qRot = rotary(q, nHeads, 'attn.hook_rot_q');
    const kRot = rotary(k, nKvHeads, 'attn.hook_rot_k');
    g.output(g.op1('Identity', [kRot], { output: `new_key.${slot}` }), 'float32', ['batch', 'seq', nKvHeads * dHead]);
    g.output(g.op1('Identity', [v], { output: `new_value.${slot}` }), 'float32', ['batch', 'seq', nKvHeads * dHead]);
    // softmax(q k^T / sqrt(d_head) + causal mask) v over cached and new positions; query head h
    // reads KV head h / group (Hugging Face repeat_kv), done by grouping query heads per KV head.
    const kAll = g.op1('Concat', [g.op1('Transpose', [pastKey], { attrs: { perm: [1, 0, 2, 3] } }), g.op1('Reshape', [kRot, kvHeadsShape])], { attrs: { axis: 1 } }); // [batch, key_pos, n_kv_heads, d_head]
    const vAll = g.op1('Concat', [g.op1('Transpose', [pastValue], { attrs: { perm: [1, 0, 2, 3] } }), g.op1('Reshape', [v, kvHeadsShape])], { attrs: { axis: 1 } });
    const kT = g.op1('Unsqueeze', [g.op1('Transpose', [kAll], { attrs: { perm: [0, 2, 3, 1] } }), axis2]); // [batch, n_kv_heads, 1, d_head, key_pos]
    const vByHead = g.op1('Unsqueeze', [g.op1('Transpose', [vAll], { attrs: { perm: [0, 2, 1, 3] } }), axis2]); // [batch, n_kv_heads, 1, key_pos, d_head]
    const qGrouped = g.op1('Transpose', [g.op1('Reshape', [g.op1('Mul', [qRot, attnScale]), groupedHeadsShape])], { attrs: { perm: [0, 2, 3, 1, 4] } }); // [batch, n_kv_heads, group, pos, d_head]
    const scores = g.op1('Add', [g.op1('MatMul', [qGrouped, kT]), attentionMask]); // [batch, n_kv_heads, group, pos, key_pos]
    const pattern = at('attn.hook_pattern', g.op1('Softmax', [scores], { attrs: { axis: -1 }, output: named('attn.hook_pattern') }), 'pattern'); // grouped: head = kv_head * group + g
    const zGrouped = g.op1('MatMul', [pattern, vByHead]); // [batch, n_kv_heads, group, pos, d_head]
    const z = at('attn.hook_z', g.op1('Reshape', [g.op1('Transpose', [zGrouped], { attrs: { perm: [0, 3, 1, 2, 4] } }), flatHeadsShape], { output: named('attn.hook_z') })); // [batch, pos, n_heads * d_head]
    const attnOut = at('hook_attn_out', linear(z, weightName.o(layer), nHeads * dHead, `blocks.${layer}.attn.o_proj`, named('hook_attn_out'))); // [batch, pos, d_model]
    const [normed2, residMid] = residualThenNorm(attnOut, residPre, w(weightName.ln2(layer)), [hook('hook_resid_mid')], hook('ln2.hook_normalized'));

    // MLP: down_proj(silu(gate_proj(x)) * up_proj(x))
    const gate = at('mlp.hook_pre', linear(normed2, weightName.gate(layer), dModel, `blocks.${layer}.mlp.gate_proj`, named('mlp.hook_pre'))); // [batch, pos, d_mlp]
    const up = at('mlp.hook_pre_linear', linear(normed2, weightName.up(layer), dModel, `blocks.${layer}.mlp.up_proj`, named('mlp.hook_pre_linear'))); // [batch, pos, d_mlp]
    const silu = g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]);
    const post = at('mlp.hook_post', g.op1('Mul', [silu, up], { output: named('mlp.hook_post') })); // [batch, pos, d_mlp]
    const mlpOut = at('hook_mlp_out', linear(post, weightName.down(layer), spec.dMlp, `blocks.${layer}.mlp.down_proj`, named('hook_mlp_out'))); // [batch, pos, d_model]

    // Residual add, fused with the norm that reads it next: the next block's ln1 or ln_final.
    const next = schedule[slot + 1];
    const nextGamma = w(next === undefined ? weightName.lnFinal : weightName.ln1(next));
    const nextNormedHook = next === undefined ? 'ln_final.hook_normalized' : `blocks.${next}.ln1.hook_normalized`;
    const residualHooks = next === undefined ? [hook('hook_resid_post')] : [hook('hook_resid_post'), `blocks.${next}.hook_resid_pre`];
    [normed, residPre] = residualThenNorm(mlpOut, residMid, nextGamma, residualHooks, nextNormedHook);
  }
  const finalResidual = residPre; // output of the last block run, before ln_final

  // Unembed only the requested positions: prefill needs one row of logits, not seq rows.
  const atLogitsPositions = (x: Value): Value => g.op1('Gather', [x, logitsPositions], { attrs: { axis: 1 } }); // [batch, n_logits, d_model]
  const changed = taps.changes('logits'); // then the output is the changed value, renamed
  let logits = taps.tap(g, 'logits', matmul(atLogitsPositions(normed), weightName.unembed, dModel, changed ? undefined : 'logits')); // [batch, n_logits, d_vocab]
  if (changed) logits = g.op1('Identity', [logits], { output: 'logits' });
  g.output(logits, 'float32', ['batch', 'n_logits', dVocab]);

  // Lens heads: the same unembedding applied to an intermediate hook (logit lens, LFD, DoLa).
  for (const lens of tapSpec.lenses) {
    let h = atLogitsPositions(taps.valueOf(lens.hook));
    if (lens.fuse) {
      const lambda = g.input(`${lens.name}.lambda`, 'float32', ['batch', 1, 1]);
      h = g.op1('Add', [atLogitsPositions(finalResidual), g.op1('Mul', [lambda, h])]);
    }
    if (lens.finalNorm) h = rmsNorm(h, w(weightName.lnFinal));
    g.output(matmul(h, weightName.unembed, dModel, lens.name), 'float32', ['batch', 'n_logits', dVocab]);
  }
  taps.finish(g);
  return g.toModel();
}
