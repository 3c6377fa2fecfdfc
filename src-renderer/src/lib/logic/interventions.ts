/**
 * The intervention ops the variant editor's forms produce (engine/hooks/plan.ts), and
 * the reverse: which form edits a given op. An op that no form describes (lens,
 * weight_delta, a clamp at another site, ...) is edited as JSON.
 */
import type { HookInfo, Intervention, InterventionOf, Positions } from '../api/types';

export type FormKind = 'steering' | 'clamp' | 'heads' | 'schedule' | 'patch' | 'json';

export const FORM_LABELS: Record<FormKind, string> = {
  steering: 'Steering vector',
  clamp: 'Neuron clamp',
  heads: 'Head ablation',
  schedule: 'Layer schedule',
  patch: 'Activation patch',
  json: 'JSON op',
};

const CLAMP_SITE = 'mlp.hook_post';
const HEADS_SITE = 'attn.hook_z';

export function blockHook(layer: number, site: string): string {
  return `blocks.${layer}.${site}`;
}

/** blocks.3.hook_resid_post -> { layer: 3, site: 'hook_resid_post' }; hook_embed -> { layer: null, site: 'hook_embed' }. */
export function splitHook(hook: string): { layer: number | null; site: string } {
  const match = /^blocks\.(\d+)\.(.+)$/.exec(hook);
  return match ? { layer: Number(match[1]), site: match[2] } : { layer: null, site: hook };
}

export function formKindOf(step: Intervention): FormKind {
  switch (step.op) {
    case 'add':
      return 'steering';
    case 'set':
      return splitHook(step.hook).site === CLAMP_SITE && splitHook(step.hook).layer !== null ? 'clamp' : 'json';
    case 'scale':
      return splitHook(step.hook).site === HEADS_SITE && splitHook(step.hook).layer !== null ? 'heads' : 'json';
    case 'schedule':
      return 'schedule';
    case 'patch':
      return 'prompt_ids' in step.source ? 'patch' : 'json';
    default:
      return 'json';
  }
}

// ---------------------------------------------------------------- builders

export function steering(hook: string, vector: number[], scale: number, positions: Positions = 'all'): InterventionOf<'add'> {
  return { op: 'add', hook, vector, scale, positions };
}

/** Clamp MLP neurons of block `layer` (their activations, the input of down_proj). */
export function neuronClamp(layer: number, neurons: number[], values: number[], positions: Positions = 'all'): InterventionOf<'set'> {
  return { op: 'set', hook: blockHook(layer, CLAMP_SITE), indices: neurons, values, positions };
}

/** Multiply attention heads' outputs (hook_z, before o_proj); factor 0 ablates them. */
export function headScale(layer: number, heads: number[], factor = 0, positions: Positions = 'all'): InterventionOf<'scale'> {
  return { op: 'scale', hook: blockHook(layer, HEADS_SITE), indices: heads, values: [factor], positions };
}

export function schedule(blocks: number[]): InterventionOf<'schedule'> {
  return { op: 'schedule', blocks };
}

/** A patch whose source is another prompt (the form's kind; cached values are edited as JSON). */
export type PromptPatch = InterventionOf<'patch'> & { source: { prompt_ids: number[] } };

export function patchFromPrompt(hook: string, promptIds: number[], positions: Positions): PromptPatch {
  return { op: 'patch', hook, positions, source: { prompt_ids: promptIds } };
}

/** A new op of a kind, with starting values that fit the model (nLayers blocks). */
export function starter(kind: Exclude<FormKind, 'json'>, nLayers: number, steeringHook: string): Intervention {
  const middle = Math.max(0, Math.floor(nLayers / 2));
  switch (kind) {
    case 'steering':
      return steering(steeringHook, [], 4);
    case 'clamp':
      return neuronClamp(middle, [0], [0]);
    case 'heads':
      return headScale(middle, [0]);
    case 'schedule':
      return schedule(Array.from({ length: Math.max(1, nLayers) }, (_, i) => i));
    case 'patch':
      // No source yet: the form asks for a prompt and flags the empty list until then.
      return patchFromPrompt(blockHook(middle, 'hook_resid_pre'), [], 'all');
  }
}

// ---------------------------------------------------------------- hooks

/** Hooks a vector can be added to: those whose last dim is d_model (the residual-width sites). */
export function residualHooks(hooks: readonly HookInfo[]): HookInfo[] {
  return hooks.filter((hook) => hook.dims[hook.dims.length - 1] === 'd_model');
}

/** Hooks a patch can replace rows of: first dim pos (everything but the attention pattern). */
export function patchableHooks(hooks: readonly HookInfo[]): HookInfo[] {
  return hooks.filter((hook) => hook.dims[0] === 'pos' && hook.name !== 'logits');
}

export interface SiteChoice {
  site: string;
  /** Blocks that have this site; empty for global sites (hook_embed, ln_final...). */
  layers: number[];
}

/** Sites in execution order (the catalogue's order), each with its blocks. */
export function siteChoices(hooks: readonly HookInfo[]): SiteChoice[] {
  const bySite = new Map<string, number[]>();
  const order: string[] = [];
  for (const hook of hooks) {
    if (!bySite.has(hook.site)) {
      bySite.set(hook.site, []);
      order.push(hook.site);
    }
    if (hook.layer !== null) bySite.get(hook.site)!.push(hook.layer);
  }
  return order.map((site) => ({ site, layers: bySite.get(site)! }));
}

/** The default steering site: block ~ 1/3 deep, hook_resid_post (or the first residual hook). */
export function defaultSteeringHook(hooks: readonly HookInfo[], nLayers: number): string {
  const layer = Math.min(Math.max(0, nLayers - 1), Math.floor(nLayers / 3));
  const wanted = blockHook(layer, 'hook_resid_post');
  const residual = residualHooks(hooks);
  if (residual.length === 0 || residual.some((hook) => hook.name === wanted)) return wanted;
  return residual[0].name;
}
