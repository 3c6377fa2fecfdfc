/**
 * The hook catalogue: every site where a plan may look or intervene, named as in
 * TransformerLens so vectors, SAEs and notebooks from that ecosystem line up
 * (DESIGN.md, "Engine: hookable graphs"). This module is the only owner of these names;
 * graph builders name their ONNX values with the builders below, so a graph dump
 * explains itself.
 *
 * Shapes follow TransformerLens per-sequence conventions (no batch axis). Attention
 * sites are described per head ([pos, head, d_head]) even where the graph keeps them
 * flat ([pos, head * d_head]); consumers reshape with `shape`.
 */
import { EngineError } from '../errors';
import type { ModelSpec, Traits } from '../model/spec';

/**
 * Sites inside block i, in execution order (the order of graph/forward.ts). A model has
 * the ones its traits build (PRESENT): e.g. rot_q/rot_k only with rotary positions.
 */
export const BLOCK_SITES = [
  'hook_resid_pre',
  'ln1.hook_scale',
  'ln1.hook_normalized',
  'attn.hook_q',
  'attn.hook_k',
  'attn.hook_v',
  'attn.q_norm.hook_normalized',
  'attn.k_norm.hook_normalized',
  'attn.hook_rot_q',
  'attn.hook_rot_k',
  'attn.hook_attn_scores',
  'attn.hook_pattern',
  'attn.hook_z',
  'ln1_post.hook_scale',
  'ln1_post.hook_normalized',
  'hook_attn_out',
  'hook_resid_mid',
  'ln2.hook_scale',
  'ln2.hook_normalized',
  'mlp.hook_pre',
  'mlp.hook_pre_linear',
  'mlp.hook_post',
  'ln2_post.hook_scale',
  'ln2_post.hook_normalized',
  'hook_mlp_out',
  'hook_resid_post',
] as const;

export type BlockSite = (typeof BLOCK_SITES)[number];
/** Sites outside the blocks: the embedding before them, the final norm, the unembedding's input and logits after. */
export type GlobalSite = 'hook_embed' | 'hook_pos_embed' | 'ln_final.hook_scale' | 'ln_final.hook_normalized' | 'unembed.hook_in' | 'logits';
export type Site = BlockSite | GlobalSite;
export type HookName = GlobalSite | `blocks.${number}.${BlockSite}`;

export interface HookInfo {
  name: HookName;
  /** Block index, or null for the sites outside the blocks (hook_embed, ln_final.hook_normalized, logits, ...). */
  layer: number | null;
  /** The name without its block prefix, e.g. 'hook_resid_post', 'attn.hook_z'. */
  site: Site;
  /** TransformerLens dim names, e.g. ['pos', 'd_model'], ['head', 'q_pos', 'k_pos']. */
  dims: string[];
  /** Concrete sizes; 'pos' where the position count goes. */
  shape: (number | 'pos')[];
  /** What set/scale indices address at this site; null where set/scale is not offered. */
  indexUnit: 'head' | 'neuron' | 'dim' | null;
  /** How many indices set/scale may address (n_kv_heads at k/v/rot_k); 0 where indexUnit is null. */
  nIndex: number;
}

type Layout = Pick<HookInfo, 'dims' | 'shape' | 'indexUnit' | 'nIndex'>;

const residual = (spec: ModelSpec): Layout => ({ dims: ['pos', 'd_model'], shape: ['pos', spec.dModel], indexUnit: 'dim', nIndex: spec.dModel });
const queryHeads = (spec: ModelSpec): Layout => heads(spec, spec.nHeads);
// Grouped-query attention: keys and values have their own, smaller head count.
const kvHeads = (spec: ModelSpec): Layout => heads(spec, spec.nKvHeads);
const neurons = (spec: ModelSpec): Layout => ({ dims: ['pos', 'd_mlp'], shape: ['pos', spec.dMlp], indexUnit: 'neuron', nIndex: spec.dMlp });
// A norm's divisor, one number per position (TransformerLens's [batch, pos, 1]): set/scale address its one entry.
const normScale = (): Layout => ({ dims: ['pos', 'scale'], shape: ['pos', 1], indexUnit: 'dim', nIndex: 1 });
// [n_heads, q_pos, k_pos], one grid per head: set/scale address whole heads.
const attentionGrid = (spec: ModelSpec): Layout => ({ dims: ['head', 'q_pos', 'k_pos'], shape: [spec.nHeads, 'pos', 'pos'], indexUnit: 'head', nIndex: spec.nHeads });

function heads(spec: ModelSpec, nHeads: number): Layout {
  return { dims: ['pos', 'head', 'd_head'], shape: ['pos', nHeads, spec.dHead], indexUnit: 'head', nIndex: nHeads };
}

/** Shape and index space of every site; a Record so a new site cannot be left without one. */
const LAYOUTS: Record<Site, (spec: ModelSpec) => Layout> = {
  hook_embed: residual, // [pos, d_model]  scaled by sqrt(d_model) where the family does (Gemma)
  hook_pos_embed: residual, // [pos, d_model]  learned position embedding, added to hook_embed
  hook_resid_pre: residual, // [pos, d_model]  input of block i
  // [pos, 1] sqrt(mean(x^2) + eps) of the norm's input, centred first by LayerNorm: the norm divides by it.
  'ln1.hook_scale': normScale,
  'ln1.hook_normalized': residual, // [pos, d_model]  the norm's output, gain (and bias) applied
  'attn.hook_q': queryHeads, // [pos, n_heads, d_head]
  'attn.hook_k': kvHeads, // [pos, n_kv_heads, d_head]
  'attn.hook_v': kvHeads, // [pos, n_kv_heads, d_head]
  'attn.q_norm.hook_normalized': queryHeads, // [pos, n_heads, d_head]  per-head RMSNorm of q
  'attn.k_norm.hook_normalized': kvHeads, // [pos, n_kv_heads, d_head]
  'attn.hook_rot_q': queryHeads, // [pos, n_heads, d_head]  after rotary
  'attn.hook_rot_k': kvHeads, // [pos, n_kv_heads, d_head]  after rotary
  // [n_heads, q_pos, k_pos] q.k times the attention scale, -inf where the causal mask hides a key
  // (before softmax). The mask is applied again after an edit: no edit lets a query see a later key.
  'attn.hook_attn_scores': attentionGrid,
  'attn.hook_pattern': attentionGrid, // [n_heads, q_pos, k_pos] after softmax
  'attn.hook_z': queryHeads, // [pos, n_heads, d_head]  input of o_proj (head ablation site)
  'ln1_post.hook_scale': normScale, // [pos, 1]  sandwich norms (Gemma): the norm of o_proj's output
  'ln1_post.hook_normalized': residual, // [pos, d_model]  = hook_attn_out with sandwich norms
  hook_attn_out: residual, // [pos, d_model]  what attention adds to the residual stream
  hook_resid_mid: residual, // [pos, d_model]
  'ln2.hook_scale': normScale, // [pos, 1]
  'ln2.hook_normalized': residual, // [pos, d_model]
  'mlp.hook_pre': neurons, // [pos, d_mlp]  the activation's input (gate_proj output, or the plain MLP's up_proj output)
  'mlp.hook_pre_linear': neurons, // [pos, d_mlp]  up_proj output (gated MLPs)
  'mlp.hook_post': neurons, // [pos, d_mlp]  input of down_proj (clamping site)
  'ln2_post.hook_scale': normScale, // [pos, 1]  sandwich norms (Gemma): the norm of down_proj's output
  'ln2_post.hook_normalized': residual, // [pos, d_model]  = hook_mlp_out with sandwich norms
  hook_mlp_out: residual, // [pos, d_model]  what the MLP adds to the residual stream
  hook_resid_post: residual, // [pos, d_model]  output of block i (steering site)
  'ln_final.hook_scale': normScale, // [pos, 1]
  'ln_final.hook_normalized': residual, // [pos, d_model]
  'unembed.hook_in': residual, // [pos, d_model]  ln_final's output at the positions that get logits
  // [pos, d_vocab] (TransformerLens's unembed.hook_out). No set/scale: a token-level bias belongs to the sampler, not the graph.
  logits: (spec) => ({ dims: ['pos', 'd_vocab'], shape: ['pos', spec.dVocab], indexUnit: null, nIndex: 0 }),
};

/** The sites only some models have, and which traits build them; every other site is in every model. */
const PRESENT: Partial<Record<Site, (traits: Traits) => boolean>> = {
  hook_pos_embed: (traits) => traits.positions === 'learned',
  'attn.q_norm.hook_normalized': (traits) => traits.qkNorm,
  'attn.k_norm.hook_normalized': (traits) => traits.qkNorm,
  'attn.hook_rot_q': (traits) => traits.positions === 'rotary',
  'attn.hook_rot_k': (traits) => traits.positions === 'rotary',
  'mlp.hook_pre_linear': (traits) => traits.mlp === 'gated',
  'ln1_post.hook_scale': (traits) => traits.sandwichNorms,
  'ln1_post.hook_normalized': (traits) => traits.sandwichNorms,
  'ln2_post.hook_scale': (traits) => traits.sandwichNorms,
  'ln2_post.hook_normalized': (traits) => traits.sandwichNorms,
};

/** Sites laid out [head, q_pos, k_pos] (the graph keeps them [n_kv_heads, group, q_pos, k_pos]), not one row per position. */
export const isAttentionGrid = (site: Site): boolean => site === 'attn.hook_attn_scores' || site === 'attn.hook_pattern';

/** True when the model's graph has this site. */
export const hasSite = (spec: ModelSpec, site: Site): boolean => PRESENT[site]?.(spec.traits) ?? true;

const presentSites = <S extends Site>(spec: ModelSpec, sites: readonly S[]): S[] => sites.filter((site) => hasSite(spec, site));

const blockHook = (layer: number, site: BlockSite): HookName => `blocks.${layer}.${site}`;

/** Builders, so code never spells a hook name by hand. */
export const hookName = {
  embed: (): HookName => 'hook_embed',
  posEmbed: (): HookName => 'hook_pos_embed',
  residPre: (layer: number) => blockHook(layer, 'hook_resid_pre'),
  ln1Scale: (layer: number) => blockHook(layer, 'ln1.hook_scale'),
  ln1Normalized: (layer: number) => blockHook(layer, 'ln1.hook_normalized'),
  q: (layer: number) => blockHook(layer, 'attn.hook_q'),
  k: (layer: number) => blockHook(layer, 'attn.hook_k'),
  v: (layer: number) => blockHook(layer, 'attn.hook_v'),
  qNormalized: (layer: number) => blockHook(layer, 'attn.q_norm.hook_normalized'),
  kNormalized: (layer: number) => blockHook(layer, 'attn.k_norm.hook_normalized'),
  rotQ: (layer: number) => blockHook(layer, 'attn.hook_rot_q'),
  rotK: (layer: number) => blockHook(layer, 'attn.hook_rot_k'),
  attnScores: (layer: number) => blockHook(layer, 'attn.hook_attn_scores'),
  pattern: (layer: number) => blockHook(layer, 'attn.hook_pattern'),
  z: (layer: number) => blockHook(layer, 'attn.hook_z'),
  ln1PostScale: (layer: number) => blockHook(layer, 'ln1_post.hook_scale'),
  ln1PostNormalized: (layer: number) => blockHook(layer, 'ln1_post.hook_normalized'),
  attnOut: (layer: number) => blockHook(layer, 'hook_attn_out'),
  residMid: (layer: number) => blockHook(layer, 'hook_resid_mid'),
  ln2Scale: (layer: number) => blockHook(layer, 'ln2.hook_scale'),
  ln2Normalized: (layer: number) => blockHook(layer, 'ln2.hook_normalized'),
  mlpPre: (layer: number) => blockHook(layer, 'mlp.hook_pre'),
  mlpPreLinear: (layer: number) => blockHook(layer, 'mlp.hook_pre_linear'),
  mlpPost: (layer: number) => blockHook(layer, 'mlp.hook_post'),
  ln2PostScale: (layer: number) => blockHook(layer, 'ln2_post.hook_scale'),
  ln2PostNormalized: (layer: number) => blockHook(layer, 'ln2_post.hook_normalized'),
  mlpOut: (layer: number) => blockHook(layer, 'hook_mlp_out'),
  residPost: (layer: number) => blockHook(layer, 'hook_resid_post'),
  lnFinalScale: (): HookName => 'ln_final.hook_scale',
  lnFinalNormalized: (): HookName => 'ln_final.hook_normalized',
  unembedIn: (): HookName => 'unembed.hook_in',
  logits: (): HookName => 'logits',
} as const;

const GLOBAL_BEFORE: GlobalSite[] = ['hook_embed', 'hook_pos_embed'];
const GLOBAL_AFTER: GlobalSite[] = ['ln_final.hook_scale', 'ln_final.hook_normalized', 'unembed.hook_in', 'logits'];
// Layer numbers in canonical decimal only ('blocks.02...' is not a name the graph uses).
const BLOCK_NAME = /^blocks\.(0|[1-9][0-9]*)\.(.+)$/;

/**
 * Splits a name into layer and site without checking the layer against a model;
 * null when it is not a hook name at all.
 */
export function parseHookName(name: string): { layer: number | null; site: Site } | null {
  if ((GLOBAL_BEFORE as string[]).includes(name) || (GLOBAL_AFTER as string[]).includes(name)) return { layer: null, site: name as GlobalSite };
  const match = BLOCK_NAME.exec(name);
  if (!match || !(BLOCK_SITES as readonly string[]).includes(match[2])) return null;
  return { layer: Number(match[1]), site: match[2] as BlockSite };
}

/** Every hook of the model, in execution order. */
export function listHooks(spec: ModelSpec): HookInfo[] {
  const info = (name: HookName, layer: number | null, site: Site): HookInfo => ({ name, layer, site, ...LAYOUTS[site](spec) });
  const hooks = presentSites(spec, GLOBAL_BEFORE).map((site) => info(site, null, site));
  for (let layer = 0; layer < spec.nLayers; layer++) {
    for (const site of presentSites(spec, BLOCK_SITES)) hooks.push(info(blockHook(layer, site), layer, site));
  }
  hooks.push(...presentSites(spec, GLOBAL_AFTER).map((site) => info(site, null, site)));
  return hooks;
}

/** The hook's shape and index space; EngineError('bad_argument') naming the valid hooks otherwise. */
export function hookInfo(spec: ModelSpec, name: string): HookInfo {
  const parsed = parseHookName(name);
  if (!parsed) throw new EngineError('bad_argument', `unknown hook '${name}'; valid: ${validHookSummary(spec)}`, { hook: name });
  const { layer, site } = parsed;
  if (!hasSite(spec, site)) throw new EngineError('bad_argument', `this model (${spec.architecture}) has no '${site}' site; valid: ${validHookSummary(spec)}`, { hook: name });
  if (layer !== null && layer >= spec.nLayers) {
    throw new EngineError('bad_argument', `layer ${layer} is out of range: this model has blocks ${blockRange(spec)}`, { hook: name, layer });
  }
  return { name: name as HookName, layer, site, ...LAYOUTS[site](spec) };
}

/** "0..4" for a five-block model, "0" for a one-block model. */
export function blockRange(spec: ModelSpec): string {
  return spec.nLayers === 1 ? '0' : `0..${spec.nLayers - 1}`;
}

/** "hook_embed, blocks.{0..4}.hook_resid_pre, ..., logits": every valid name, compactly. */
function validHookSummary(spec: ModelSpec): string {
  const range = `{${blockRange(spec)}}`;
  return [...presentSites(spec, GLOBAL_BEFORE), ...presentSites(spec, BLOCK_SITES).map((site) => `blocks.${range}.${site}`), ...presentSites(spec, GLOBAL_AFTER)].join(', ');
}
