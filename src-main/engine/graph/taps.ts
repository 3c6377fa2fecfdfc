/**
 * What a plan asks of the graph at its hook sites. The family file calls `tap` at every
 * site in execution order; with no plan every tap is the identity and the graph is the
 * plain forward pass. Interventions become ops whose parameters are graph inputs (one
 * row per batch row, so variants of one structure share a graph), and the values that
 * captures and lens heads read are remembered until `finish`.
 *
 * Parameter inputs, per intervention (prefix = `intervention.{i}`, graph-io.ts), with the
 * shapes the compiler feeds (plan/feeds.ts). Residual-like sites are [batch, seq, width]; the
 * attention scores and pattern are [batch, n_kv_heads, group, seq, key_pos]:
 *   add     prefix.delta [batch, 1, width] (scale * vector)  prefix.mask [batch, seq, 1]
 *           x + mask * delta
 *   set     prefix.select, prefix.values [batch, 1, width]   prefix.mask
 *           x + mask * select * (values - x)
 *   scale   prefix.factor [batch, 1, width] (value - 1 at selected indices, else 0)
 *           x * (1 + mask * factor)
 *   patch   prefix.values [batch, seq, width]   prefix.mask
 *           x + mask * (values - x)
 * At the scores and the pattern, select/values/factor are [batch, n_kv_heads, group, 1, 1] (whole heads)
 * and the mask is [batch, 1, 1, seq, 1] (query positions).
 */
import { graphInput, graphOutput } from '../graph-io';
import { parseHookName } from '../hooks/names';
import { skippedBlockOf } from '../hooks/schedule';
import { GraphBuilder, type Value } from './builder';

export type TapOp = 'add' | 'set' | 'scale' | 'patch';

export interface TapIntervention {
  op: TapOp;
  hook: string;
  /** Its position in plan.interventions, which names its inputs (graphInput.intervention). */
  index: number;
}

/**
 * A low-rank edit of a linear weight: y = x W + (x V^T) U, inputs prefix.v [batch, in, k]
 * and prefix.u [batch, k, out]. Several edits of one weight add up (variants batched
 * together may each edit it).
 */
export interface WeightDelta {
  param: string; // canonical name without ".weight", e.g. blocks.2.mlp.down_proj
  /** Its position in plan.interventions (graphInput.intervention). */
  index: number;
}

/**
 * An extra unembedding of one hook's value at the logits positions: output `name`
 * [batch, n_logits, d_vocab]. `finalNorm` applies ln_final first (logit lens); `fuse`
 * unembeds h_final + lambda * h instead, lambda fed as `${name}.lambda` [batch, 1, 1].
 */
export interface LensHead {
  name: string;
  hook: string;
  finalNorm: boolean;
  fuse: boolean;
  /** Only the top-1 token per position leaves the graph: output int64 [batch, n_logits] (internal consistency). */
  argmax?: boolean;
}

export interface TapSpec {
  captures: string[];
  interventions: TapIntervention[];
  deltas: WeightDelta[];
  lenses: LensHead[];
  /**
   * Block order; null runs every block once, in order. Captures and lens heads may read the
   * residual hooks of a block it skips: they get the passthrough stream (hooks/schedule.ts).
   */
  schedule: number[] | null;
}

export const NO_TAPS: TapSpec = { captures: [], interventions: [], deltas: [], lenses: [], schedule: null };

/**
 * Not a hook: the residual stream entering the first block (the token embedding, plus the
 * learned position embedding where a model has one), HF's hidden_states[0]. Lens heads
 * may read it (DoLa's and LFD's layer 0); plans cannot name it.
 */
export const STREAM_START = 'residual_stream_start';

/** The graph output that holds a captured hook. */

export class Taps {
  /** The value each observed hook last had (a block that runs twice: its last run). */
  private readonly latest = new Map<string, Value>();
  private readonly observed: Set<string>;
  /** Observed hooks of blocks the schedule skips (residual hooks only), by block. */
  private readonly passthrough = new Map<number, string[]>();

  constructor(readonly spec: TapSpec) {
    this.observed = new Set([...spec.captures, ...spec.lenses.map((lens) => lens.hook)]);
    for (const hook of this.observed) {
      const layer = skippedBlockOf(hook, spec.schedule);
      if (layer !== null) this.passthrough.set(layer, [...(this.passthrough.get(layer) ?? []), hook]);
    }
  }

  /** True when a plan changes the value at `hook` (so a fused op that hides it must be split). */
  changes(hook: string): boolean {
    return this.spec.interventions.some((intervention) => intervention.hook === hook);
  }

  /** True when a plan reads or changes the value at `hook` (so a value a fused op keeps inside must be computed on its own). */
  touches(hook: string): boolean {
    return this.observed.has(hook) || this.changes(hook);
  }

  /** The plan's low-rank edits of a linear weight, in plan order (none when it leaves the weight alone). */
  deltas(param: string): WeightDelta[] {
    return this.spec.deltas.filter((delta) => delta.param === param);
  }

  /** Apply the interventions at `hook` in plan order (at every run of a repeated block), then remember what flows on. */
  tap(g: GraphBuilder, hook: string, value: Value, layout: 'rows' | 'pattern' = 'rows'): Value {
    let x = value;
    for (const { op, hook: at, index } of this.spec.interventions) {
      if (at !== hook) continue;
      const name = (part: string): string => graphInput.intervention(index, part);
      const input = (part: string, dims: (string | number)[]): Value => g.parameter(name(part), 'float32', dims);
      const mask = input('mask', layout === 'rows' ? ['batch', 'seq', 1] : ['batch', 1, 1, 'seq', 1]);
      const perIndex = (part: string): Value => input(part, layout === 'rows' ? ['batch', 1, name('width')] : ['batch', name('kv'), name('group'), 1, 1]);
      const towards = (target: Value, weight: Value): Value => g.op1('Add', [x, g.op1('Mul', [weight, g.op1('Sub', [target, x])])]);
      switch (op) {
        case 'add':
          x = g.op1('Add', [x, this.addTerm(g, index, layout)]);
          break;
        case 'set': {
          const select = perIndex('select');
          x = towards(perIndex('values'), g.op1('Mul', [mask, select]));
          break;
        }
        case 'scale': {
          const one = g.constant('float32', [], [1], 'one');
          x = g.op1('Mul', [x, g.op1('Add', [one, g.op1('Mul', [mask, perIndex('factor')])])]);
          break;
        }
        case 'patch':
          x = towards(input('values', ['batch', 'seq', name('width')]), mask);
          break;
      }
    }
    this.observe(hook, x);
    return x;
  }

  /** What `add` adds: mask * delta, from the intervention's parameter inputs. */
  private addTerm(g: GraphBuilder, index: number, layout: 'rows' | 'pattern'): Value {
    const name = (part: string): string => graphInput.intervention(index, part);
    const mask = g.parameter(name('mask'), 'float32', layout === 'rows' ? ['batch', 'seq', 1] : ['batch', 1, 1, 'seq', 1]);
    const delta = g.parameter(name('delta'), 'float32', layout === 'rows' ? ['batch', 1, name('width')] : ['batch', name('kv'), name('group'), 1, 1]);
    return g.op1('Mul', [mask, delta]);
  }

  /**
   * The interventions at `hooks` (residual hooks that hold one value: a block's resid_post
   * and the next block's resid_pre) as terms to add to the residual before a fused
   * skip-norm sums it, so the fused op stays: [] when none, null when they cannot fold.
   * They fold when every one is an `add` (adds commute with the residual add: the sum
   * differs only by float rounding) and no observer of a hook (capture, lens head, the
   * stream a skipped block passes on) would see an add meant for a later hook. The caller
   * then passes the summed value to `observe` for each hook.
   */
  foldedAdds(g: GraphBuilder, hooks: string[]): Value[] | null {
    const at = hooks.map((hook) => this.spec.interventions.filter((intervention) => intervention.hook === hook));
    if (at.some((list) => list.some(({ op }) => op !== 'add'))) return null;
    const lastWithAdds = at.findLastIndex((list) => list.length > 0);
    if (hooks.some((hook, i) => i < lastWithAdds && this.isObserved(hook))) return null;
    return at.flat().map(({ index }) => this.addTerm(g, index, 'rows'));
  }

  /** Whether anything reads the value at `hook`: a capture or lens head, or a skipped block passing it on. */
  private isObserved(hook: string): boolean {
    return this.observed.has(hook) || (this.passthrough.size > 0 && parseHookName(hook)?.site === 'hook_resid_post');
  }

  /** Remember `x` as the value at `hook` for captures, lens heads and skipped blocks; no intervention is applied. */
  observe(hook: string, x: Value): void {
    if (this.observed.has(hook)) this.latest.set(hook, x);
    this.passOn(hook, x);
  }

  /**
   * A skipped block is the identity on the residual stream, so its residual hooks read the
   * stream after the last schedule position whose block is lower (the stream entering the
   * blocks, see enterBlocks, if none). Taps come in execution order, so keeping the latest
   * stream start / resid_post of a lower block gives exactly that.
   */
  private passOn(hook: string, x: Value): void {
    if (this.passthrough.size === 0) return;
    const parsed = parseHookName(hook);
    if (parsed?.site === 'hook_resid_post' && parsed.layer !== null) this.passBelow(parsed.layer, x);
  }

  /** The residual stream as it enters the first block (the embedding, plus learned positions where a model has them). */
  enterBlocks(x: Value): void {
    if (this.observed.has(STREAM_START)) this.latest.set(STREAM_START, x);
    this.passBelow(-1, x); // below every block
  }

  private passBelow(below: number, x: Value): void {
    for (const [layer, hooks] of this.passthrough) {
      if (layer > below) for (const skipped of hooks) this.latest.set(skipped, x);
    }
  }

  /** The last value of an observed hook; throws if the graph never reached it. */
  valueOf(hook: string): Value {
    const value = this.latest.get(hook);
    if (!value) throw new Error(`hook ${hook} was never tapped`);
    return value;
  }

  /** Declare the capture outputs, each the last value its hook had. */
  finish(g: GraphBuilder): void {
    for (const hook of this.spec.captures) g.output(g.op1('Identity', [this.valueOf(hook)], { output: graphOutput.capture(hook) }), 'float32', null);
  }
}
