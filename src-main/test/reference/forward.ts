/**
 * Reference forward pass of every family, for parity tests only, driven by the spec's
 * traits like the engine's graph but written independently of it.
 *
 * Written to be checked line by line against llama2.c's forward() and transformers'
 * modeling_llama.py (Llama), modeling_mistral.py and masking_utils.py (sliding window), modeling_gpt2.py (GPT-2: LayerNorm, learned
 * positions, biases, gelu_new, plain MLP), modeling_qwen2.py (q/k/v biases),
 * modeling_qwen3.py (per-head q/k RMSNorm before rotary), modeling_gemma2.py (scaled embedding,
 * (1 + w) gains folded in by the weight table, sandwich norms, soft caps, alternating
 * sliding-window blocks), modeling_gemma3.py (q/k norms, a local rotary base),
 * modeling_phi3.py and modeling_rope_utils.py (partial rotary, LongRoPE), and
 * TransformerLens's hook points (norm hook_scale, attn_scores, unembed.hook_in), not to be fast: no KV cache
 * (every call recomputes every position), float64 arithmetic throughout, one position and
 * one head at a time. Weights come from a getter under the canonical names of spec.ts, in
 * Hugging Face layouts (linear weights [out_features, in_features], q/k in rotate-half
 * rotary layout).
 */
import { ropeInverseFrequencies } from '../../engine/graph/rope';
import { paramName, type ModelSpec } from '../../engine/model/spec';

export type WeightGetter = (name: string) => Float32Array;

/** A getter over a name -> values map that names a missing parameter instead of returning undefined. */
export function weightGetter(weights: ReadonlyMap<string, Float32Array>): WeightGetter {
  return (name) => {
    const values = weights.get(name);
    if (!values) throw new Error(`reference forward: no weight ${name}`);
    return values;
  };
}

export interface ReferenceOutput {
  /** Logits of each requested position, [d_vocab] each. */
  logits: Float32Array[];
  /** hook_resid_post of each block run: residPost[run][pos] is [d_model], for every position. */
  residPost: Float32Array[][];
}

// ---------------------------------------------------------------------------
// Building blocks (each returns a fresh array; nothing works in place)

/** nn.Linear: out[o] = sum_i w[o, i] * x[i] (+ b[o]), w is [outFeatures, inFeatures]. */
function linear(x: Float64Array, w: Float32Array, outFeatures: number, b?: Float32Array): Float64Array {
  const inFeatures = x.length;
  const out = new Float64Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let sum = b ? b[o] : 0;
    for (let i = 0; i < inFeatures; i++) sum += w[o * inFeatures + i] * x[i];
    out[o] = sum;
  }
  return out;
}

/** LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * weight. */
function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let sumSquares = 0;
  for (const value of x) sumSquares += value * value;
  const scale = 1 / Math.sqrt(sumSquares / x.length + eps);
  return x.map((value, i) => value * scale * weight[i]);
}

/**
 * The spec's norm in TransformerLens's two steps: the input, centred for LayerNorm
 * (nn.LayerNorm subtracts the mean; RMSNorm does not); its scale sqrt(mean(x^2) + eps)
 * (hook_scale; with the centred x this is sqrt(biased variance + eps)); then x / scale * gain
 * (+ bias for LayerNorm).
 */
function centre(spec: ModelSpec, x: Float64Array): Float64Array {
  if (spec.traits.norm === 'rms') return x;
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  return x.map((value) => value - mean);
}

function normScale(centred: Float64Array, eps: number): number {
  return Math.sqrt(centred.reduce((a, b) => a + b * b, 0) / centred.length + eps);
}

function scaleAndShift(spec: ModelSpec, weight: WeightGetter, centred: Float64Array, scale: number, gain: string): Float64Array {
  const g = weight(gain);
  const b = spec.traits.norm === 'layer' ? weight(paramName.bias(gain)) : null;
  return centred.map((value, i) => (value / scale) * g[i] + (b ? b[i] : 0));
}

/** The spec's norm with the gain `gain` (and, for LayerNorm, the bias beside it). */
function norm(spec: ModelSpec, weight: WeightGetter, x: Float64Array, gain: string): Float64Array {
  const centred = centre(spec, x);
  return scaleAndShift(spec, weight, centred, normScale(centred, spec.normEps), gain);
}

/** Qwen3's q_norm / k_norm: RMSNorm of each head's d_head values on their own, one [d_head] gain. */
function perHeadRmsNorm(x: Float64Array, heads: number, dHead: number, weight: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let h = 0; h < heads; h++) out.set(rmsNorm(x.subarray(h * dHead, (h + 1) * dHead), weight, eps), h * dHead);
  return out;
}

/**
 * HF apply_rotary_pos_emb on every head of x [heads * d_head]: on the first 2 * invFreq.length
 * dims of each head (all of them unless the rotary is partial; the rest pass through, as
 * Phi-3's q_rot / q_pass), x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1)
 * over their two halves; cos and sin times `scale` (LongRoPE's attention factor).
 */
function rotary(x: Float64Array, heads: number, dHead: number, pos: number, invFreq: Float64Array, scale: number): Float64Array {
  const half = invFreq.length;
  const out = Float64Array.from(x);
  for (let h = 0; h < heads; h++) {
    const base = h * dHead;
    for (let j = 0; j < half; j++) {
      const angle = pos * invFreq[j];
      const cos = Math.cos(angle) * scale;
      const sin = Math.sin(angle) * scale;
      const x1 = x[base + j];
      const x2 = x[base + j + half];
      out[base + j] = x1 * cos - x2 * sin;
      out[base + j + half] = x2 * cos + x1 * sin;
    }
  }
  return out;
}

function softmax(scores: Float64Array): Float64Array {
  const max = Math.max(...scores);
  const exps = scores.map((score) => Math.exp(score - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

const silu = (x: number): number => x / (1 + Math.exp(-x));
/** GPT-2's gelu_new (NewGELUActivation): the tanh approximation. */
const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
/** Exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
const gelu = (x: number): number => {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * x * (1 + Math.sign(x) * erf);
};
const ACTIVATIONS = { silu, gelu, gelu_tanh: geluTanh } as const;

const add = (a: Float64Array, b: Float64Array): Float64Array => a.map((value, i) => value + b[i]);

// ---------------------------------------------------------------------------
// Forward

/**
 * A TransformerLens-style hook: called at each site with the rows of every position
 * ([d] per position; a norm's hook_scale [1]; the attention scores and pattern give
 * [n_heads * n_positions] per query position, -inf and 0 where causality hides a key).
 * Return replacement rows to intervene, or nothing to read.
 */
export type ReferenceHook = (name: string, rows: Float64Array[]) => Float64Array[] | void;

export interface ReferenceOptions {
  logits?: 'all' | 'last';
  hook?: ReferenceHook;
  /** Block order (skip, repeat); default every block once. */
  schedule?: number[];
}

/**
 * The rotary frequencies of a forward pass over `n` positions and the factor on cos and sin.
 * LongRoPE as transformers' Phi-3 computes it (_compute_longrope_parameters, and
 * longrope_frequency_update choosing by seq_len = max(position_ids) + 1, here n):
 * 1 / (ext[j] * theta^(2j / dim)) over the rotary dims, ext the long factors when
 * n > original_max_position_embeddings and the short ones otherwise. Other kinds: the engine's
 * frequencies (rope.ts, checked against golden outputs).
 */
function referenceRope(spec: ModelSpec, n: number): { invFreq: Float64Array; scale: number } {
  const scaling = spec.ropeScaling;
  if (scaling?.type !== 'longrope') return { invFreq: ropeInverseFrequencies(spec), scale: 1 };
  const dim = spec.traits.rotaryDim ?? spec.dHead;
  const ext = n > scaling.originalMaxPositions ? scaling.longFactor : scaling.shortFactor;
  return { invFreq: Float64Array.from({ length: dim / 2 }, (_, j) => 1 / (ext[j] * Math.pow(spec.ropeTheta, (2 * j) / dim))), scale: scaling.attentionFactor };
}

/**
 * Logits for `ids` (fed from position 0) at every position or only the last, plus the
 * residual stream after every block run at every position.
 */
export function referenceForward(spec: ModelSpec, weight: WeightGetter, ids: readonly number[], options: ReferenceOptions = {}): ReferenceOutput {
  const { dModel, nLayers, nHeads, nKvHeads, dHead, dMlp, normEps, traits } = spec;
  const queriesPerKvHead = nHeads / nKvHeads;
  const globalRope = referenceRope(spec, ids.length);
  // Gemma 3's sliding-window blocks rotate with rope_local_base_freq (unscaled).
  const localInvFreq = ropeInverseFrequencies(spec, 'local');
  const embed = weight(paramName.embed()); // [d_vocab, d_model]
  const at = (name: string, rows: Float64Array[]): Float64Array[] => options.hook?.(name, rows) ?? rows;
  const schedule = options.schedule ?? Array.from({ length: nLayers }, (_, layer) => layer);
  const row = (table: Float32Array, index: number): Float64Array => Float64Array.from(table.subarray(index * dModel, (index + 1) * dModel));
  // A weight's bias, where the traits give it one.
  const bias = (name: string, has: boolean): Float32Array | undefined => (has ? weight(paramName.bias(name)) : undefined);
  const act = ACTIVATIONS[traits.activation];
  // The norm `prefix` (ln1, ln2, ln_final) of every row, through its hook_scale ([1] per position) and hook_normalized.
  const normAt = (prefix: string, rows: Float64Array[], gain: string): Float64Array[] => {
    const centred = rows.map((x) => centre(spec, x));
    const scales = at(`${prefix}.hook_scale`, centred.map((x) => Float64Array.of(normScale(x, normEps))));
    return at(`${prefix}.hook_normalized`, centred.map((x, pos) => scaleAndShift(spec, weight, x, scales[pos][0], gain)));
  };

  // The residual stream, one [d_model] row per position: token embedding (times Gemma's normalizer
  // sqrt(d_model), rounded to the checkpoint's dtype: traits.embedScale) (+ learned position embedding).
  let resid: Float64Array[] = at('hook_embed', ids.map((id) => row(embed, id).map((value) => value * traits.embedScale)));
  if (traits.positions === 'learned') {
    const posEmbed = at('hook_pos_embed', ids.map((_, pos) => row(weight(paramName.posEmbed()), pos)));
    resid = resid.map((x, pos) => add(x, posEmbed[pos]));
  }
  const residPost: Float32Array[][] = [];

  for (const layer of schedule) {
    const site = (name: string): string => `blocks.${layer}.${name}`;
    resid = at(site('hook_resid_pre'), resid);
    // Attention: q/k/v for every position first, since position p reads the keys of 0..p.
    const normed = normAt(site('ln1'), resid, paramName.ln1(layer));
    const project = (name: string, out: number, has: boolean) => (x: Float64Array) => linear(x, weight(name), out, bias(name, has));
    const q = at(site('attn.hook_q'), normed.map(project(paramName.q(layer), nHeads * dHead, traits.qkvBias)));
    const k = at(site('attn.hook_k'), normed.map(project(paramName.k(layer), nKvHeads * dHead, traits.qkvBias)));
    const v = at(site('attn.hook_v'), normed.map(project(paramName.v(layer), nKvHeads * dHead, traits.qkvBias)));
    const qNormed = traits.qkNorm ? at(site('attn.q_norm.hook_normalized'), q.map((x) => perHeadRmsNorm(x, nHeads, dHead, weight(paramName.qNorm(layer)), normEps))) : q;
    const kNormed = traits.qkNorm ? at(site('attn.k_norm.hook_normalized'), k.map((x) => perHeadRmsNorm(x, nKvHeads, dHead, weight(paramName.kNorm(layer)), normEps))) : k;
    const rotaryPositions = traits.positions === 'rotary';
    const { invFreq, scale: ropeScale } = traits.slidingWindow[layer] !== null && traits.ropeLocalTheta !== null ? { invFreq: localInvFreq, scale: 1 } : globalRope;
    const qRot = rotaryPositions ? at(site('attn.hook_rot_q'), qNormed.map((x, pos) => rotary(x, nHeads, dHead, pos, invFreq, ropeScale))) : qNormed;
    const kRot = rotaryPositions ? at(site('attn.hook_rot_k'), kNormed.map((x, pos) => rotary(x, nKvHeads, dHead, pos, invFreq, ropeScale))) : kNormed;

    const n = ids.length;
    // Causal: position pos attends to source positions firstVisible(pos)..pos; the scores of the others are -inf.
    // Sliding window (Mistral; Gemma's local blocks): as transformers' masking_utils, key j is
    // visible to query i iff i - window < j <= i, so a query sees `window` keys, itself included.
    const window = traits.slidingWindow[layer];
    const firstVisible = (pos: number): number => (window === null ? 0 : Math.max(0, pos - window + 1));
    const scores = at(
      site('attn.hook_attn_scores'),
      qRot.map((qPos, pos) => {
        const row = new Float64Array(nHeads * n).fill(-Infinity); // [n_heads, k_pos]
        for (let head = 0; head < nHeads; head++) {
          const kvOffset = Math.floor(head / queriesPerKvHead) * dHead; // grouped-query attention
          for (let src = firstVisible(pos); src <= pos; src++) {
            let dot = 0;
            for (let d = 0; d < dHead; d++) dot += qPos[head * dHead + d] * kRot[src][kvOffset + d];
            // 1/sqrt(d_head) unless the family says otherwise (Gemma: query_pre_attn_scalar^-0.5); Gemma 2
            // then soft-caps, before the mask (eager_attention_forward: s / cap, tanh, * cap).
            row[head * n + src] = softcap(dot * traits.attnScale, traits.attnSoftcap);
          }
        }
        return row;
      }),
    );
    // Softmax over the sources the mask allows (whatever an edit of the scores wrote elsewhere).
    const patterns = at(
      site('attn.hook_pattern'),
      scores.map((row, pos) => {
        const pattern = new Float64Array(nHeads * n); // [n_heads, k_pos]
        const first = firstVisible(pos);
        for (let head = 0; head < nHeads; head++) pattern.set(softmax(row.subarray(head * n + first, head * n + pos + 1)), head * n + first);
        return pattern;
      }),
    );
    const z = at(
      site('attn.hook_z'),
      patterns.map((pattern) => {
        const out = new Float64Array(nHeads * dHead); // [n_heads * d_head]
        for (let head = 0; head < nHeads; head++) {
          const kvOffset = Math.floor(head / queriesPerKvHead) * dHead;
          for (let src = 0; src < n; src++) {
            for (let d = 0; d < dHead; d++) out[head * dHead + d] += pattern[head * n + src] * v[src][kvOffset + d];
          }
        }
        return out;
      }),
    );
    // Gemma's sandwich norms: post_attention_layernorm (ln1_post) on o_proj's output, before the residual add.
    const oOut = z.map(project(paramName.o(layer), dModel, traits.oBias));
    const attnOut = at(site('hook_attn_out'), traits.sandwichNorms ? normAt(site('ln1_post'), oOut, paramName.ln1Post(layer)) : oOut);
    const residMid = at(site('hook_resid_mid'), resid.map((x, pos) => add(x, attnOut[pos])));

    // MLP: gated down(act(gate(x)) * up(x)) (Llama, Qwen), or plain down(act(up(x))) (GPT-2's c_fc -> c_proj)
    const normed2 = normAt(site('ln2'), residMid, paramName.ln2(layer));
    let post: Float64Array[];
    if (traits.mlp === 'gated') {
      const gate = at(site('mlp.hook_pre'), normed2.map(project(paramName.gate(layer), dMlp, traits.mlpBias)));
      const up = at(site('mlp.hook_pre_linear'), normed2.map(project(paramName.up(layer), dMlp, traits.mlpBias)));
      post = at(site('mlp.hook_post'), gate.map((g, pos) => g.map((value, i) => act(value) * up[pos][i])));
    } else {
      const pre = at(site('mlp.hook_pre'), normed2.map(project(paramName.up(layer), dMlp, traits.mlpBias)));
      post = at(site('mlp.hook_post'), pre.map((x) => x.map(act)));
    }
    // And post_feedforward_layernorm (ln2_post) on down_proj's output.
    const downOut = post.map(project(paramName.down(layer), dModel, traits.mlpBias));
    const mlpOut = at(site('hook_mlp_out'), traits.sandwichNorms ? normAt(site('ln2_post'), downOut, paramName.ln2Post(layer)) : downOut);
    resid = at(site('hook_resid_post'), residMid.map((x, pos) => add(x, mlpOut[pos])));
    residPost.push(resid.map((x) => Float32Array.from(x)));
  }

  // Final norm and unembedding, only where asked: with a real vocabulary this is most of the work.
  const positions = options.logits === 'last' ? [ids.length - 1] : ids.map((_, pos) => pos);
  const normedFinal = normAt('ln_final', resid, paramName.lnFinal());
  const unembedIn = at('unembed.hook_in', positions.map((pos) => normedFinal[pos]));
  const logits = at('logits', unembedIn.map((x) => referenceUnembed(spec, weight, x)));
  return { logits: logits.map((row) => Float32Array.from(row)), residPost };
}

/** cap * tanh(x / cap) (Gemma 2's soft-capping); x itself with no cap. */
const softcap = (x: number, cap: number | null): number => (cap === null ? x : cap * Math.tanh(x / cap));

/** The unembedding of one [d_model] row: [d_vocab], soft-capped where the family caps its logits (Gemma2ForCausalLM). */
export function referenceUnembed(spec: ModelSpec, weight: WeightGetter, x: Float64Array): Float64Array {
  const unembed = spec.tiedEmbeddings ? weight(paramName.embed()) : weight(paramName.unembed()); // [d_vocab, d_model]
  return linear(x, unembed, spec.dVocab).map((logit) => softcap(logit, spec.traits.finalSoftcap));
}

/** Logit lens of one [d_model] residual row: the final norm, then the unembedding. */
export function referenceLens(spec: ModelSpec, weight: WeightGetter, x: ArrayLike<number>): Float64Array {
  return referenceUnembed(spec, weight, norm(spec, weight, Float64Array.from(x), paramName.lnFinal()));
}

/** Index of the largest value (the first one on ties, like torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** log_softmax(logits)[id], in float64. */
export function logSoftmaxAt(logits: ArrayLike<number>, id: number): number {
  const max = logits[argmax(logits)];
  let sumExp = 0;
  for (let i = 0; i < logits.length; i++) sumExp += Math.exp(logits[i] - max);
  return logits[id] - max - Math.log(sumExp);
}

/**
 * Largest |a[i] - b[i]|; the arrays must have the same length. Equal values differ by 0, so
 * the -inf of masked attention scores match only another -inf (and a NaN never matches).
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, a[i] === b[i] ? 0 : Math.abs(a[i] - b[i]));
  return max;
}

/**
 * A capture as the engine lays it out, from the reference hook's rows: the attention scores and
 * pattern ([n_heads * n_keys] per query position) as [head, q_pos, k_pos], other sites row after row.
 */
export function referenceCapture(hook: string, rows: Float64Array[], nHeads: number): Float32Array {
  if (!/attn\.hook_(attn_scores|pattern)$/.test(hook)) return Float32Array.from(rows.flatMap((row) => [...row]));
  const n = rows[0].length / nHeads;
  const grid = new Float32Array(nHeads * rows.length * n);
  rows.forEach((row, q) => {
    for (let head = 0; head < nHeads; head++) grid.set(row.subarray(head * n, (head + 1) * n), (head * rows.length + q) * n);
  });
  return grid;
}
