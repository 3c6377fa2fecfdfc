/**
 * What a plan asks of the graph at its hook sites. The family file calls `tap` at every
 * site in execution order; with no plan every tap is the identity and the graph is the
 * plain forward pass. Captures become graph outputs; interventions become ops whose
 * parameters are graph inputs, so changing a value needs no recompilation.
 */
import { GraphBuilder, type Value } from './builder';

/** A steering addition: value + scale * vector at the positions where mask is 1. */
export interface AddSite {
  hook: string;
  /** Graph inputs: `${prefix}.vector` [width], `${prefix}.scale` [], `${prefix}.mask` [batch, seq, 1]. */
  prefix: string;
  width: number;
}

export interface TapSpec {
  captures: string[];
  adds: AddSite[];
}

export const NO_TAPS: TapSpec = { captures: [], adds: [] };

/** The graph output that holds a captured hook. */
export const captureOutput = (hook: string): string => `capture.${hook}`;

export class Taps {
  private readonly captured: Set<string>;

  constructor(private readonly spec: TapSpec) {
    this.captured = new Set(spec.captures);
  }

  /** True when a plan changes the value at `hook` (so a fused op that hides it must be split). */
  changes(hook: string): boolean {
    return this.spec.adds.some((add) => add.hook === hook);
  }

  /** Apply the interventions at `hook`, then capture what flows on. */
  tap(g: GraphBuilder, hook: string, value: Value): Value {
    let current = value;
    for (const add of this.spec.adds) {
      if (add.hook !== hook) continue;
      const vector = g.input(`${add.prefix}.vector`, 'float32', [add.width]);
      const scale = g.input(`${add.prefix}.scale`, 'float32', []);
      const mask = g.input(`${add.prefix}.mask`, 'float32', ['batch', 'seq', 1]);
      const delta = g.op1('Mul', [g.op1('Mul', [vector, scale]), mask]); // [batch, seq, width]
      current = g.op1('Add', [current, delta]);
    }
    if (this.captured.has(hook)) {
      g.output(g.op1('Identity', [current], { output: captureOutput(hook) }), 'float32', null);
    }
    return current;
  }
}
