/**
 * A small op DSL over onnx-proto: family files call `op()` with named values and get
 * named values back, so a graph builder reads like the forward pass it encodes.
 * Values carry only a name; shapes live in the shape comments of the family file.
 */
import type { AttributeValue, Dim, ElemType, GraphProtoData, ModelProtoData, NodeProtoData, TensorProtoData, ValueInfoData } from './onnx-proto';

export interface Value {
  readonly name: string;
}

/** Domain of the com.microsoft contrib ops (GroupQueryAttention, RotaryEmbedding, ...). */
export const MS_DOMAIN = 'com.microsoft';

/** Opsets onnxruntime-node 1.30 runs on CPU (ORT-NOTES.md section 1). */
const OPSETS = { '': 21, [MS_DOMAIN]: 1 };
const IR_VERSION = 10;

export interface OpOptions {
  attrs?: Record<string, AttributeValue>;
  domain?: string;
  /** Output names; null for an optional output that is not wanted. Default: one fresh name. */
  outputs?: (string | null)[];
}

export class GraphBuilder {
  private readonly nodes: NodeProtoData[] = [];
  private readonly initializers: TensorProtoData[] = [];
  private readonly inputs: ValueInfoData[] = [];
  private readonly outputs: ValueInfoData[] = [];
  private readonly usedNames = new Set<string>();
  private nodeCount = 0;

  constructor(readonly name: string) {}

  private claim(name: string): Value {
    if (this.usedNames.has(name)) throw new Error(`graph value "${name}" defined twice`);
    this.usedNames.add(name);
    return { name };
  }

  /** A unique name for an intermediate value, e.g. "blocks.3/MatMul_41". */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.nodeCount++}`;
    while (this.usedNames.has(name));
    return name;
  }

  /** `name` if it is free, else `name#2`, `name#3`...: a block that runs twice in a schedule names its values per run. */
  unique(name: string): string {
    if (!this.usedNames.has(name)) return name;
    let run = 2;
    while (this.usedNames.has(`${name}#${run}`)) run++;
    return `${name}#${run}`;
  }

  input(name: string, elemType: ElemType, dims: Dim[]): Value {
    this.inputs.push({ name, elemType, dims });
    return this.claim(name);
  }

  /**
   * The graph input `name`, declared on first use and the same value after: a block that a
   * schedule runs twice reads its plan parameters (masks, vectors, delta factors) each time.
   */
  parameter(name: string, elemType: ElemType, dims: Dim[]): Value {
    if (this.inputs.some((input) => input.name === name)) return { name };
    return this.input(name, elemType, dims);
  }

  output(value: Value, elemType: ElemType, dims: Dim[] | null): void {
    this.outputs.push({ name: value.name, elemType, dims });
  }

  /** A small constant stored inline in the model (shapes, axes, scalars). */
  constant(elemType: 'int64' | 'int32' | 'float32', dims: number[], values: number[], prefix = 'const'): Value {
    const bytes =
      elemType === 'int64'
        ? new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer)
        : elemType === 'int32'
          ? new Uint8Array(Int32Array.from(values).buffer)
          : new Uint8Array(Float32Array.from(values).buffer);
    const name = this.fresh(prefix);
    this.initializers.push({ name, elemType, dims, data: bytes });
    return this.claim(name);
  }

  /** A weight stored in the external data file beside the model (location is relative to it). */
  external(name: string, elemType: ElemType, dims: number[], location: { location: string; offset: number; length: number }): Value {
    this.initializers.push({ name, elemType, dims, data: location });
    return this.claim(name);
  }

  /** One node. Inputs given as null are omitted optional inputs (encoded as ""). */
  op(opType: string, inputs: (Value | null)[], options: OpOptions = {}): Value[] {
    const outputNames = options.outputs ?? [this.fresh(opType)];
    const outputs = outputNames.map((n) => (n === null ? null : this.claim(n)));
    this.nodes.push({
      opType,
      domain: options.domain ?? '',
      name: `${opType}_${this.nodeCount++}`,
      inputs: inputs.map((v) => v?.name ?? ''),
      outputs: outputs.map((v) => v?.name ?? ''),
      attributes: options.attrs ?? {},
    });
    return outputs.filter((v): v is Value => v !== null);
  }

  /** A node with exactly one output, optionally given a meaningful name (e.g. a hook name). */
  op1(opType: string, inputs: (Value | null)[], options: Omit<OpOptions, 'outputs'> & { output?: string } = {}): Value {
    const [out] = this.op(opType, inputs, { ...options, outputs: [options.output ?? this.fresh(opType)] });
    return out;
  }

  toModel(): ModelProtoData {
    const graph: GraphProtoData = {
      name: this.name,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.inputs,
      outputs: this.outputs,
    };
    return { irVersion: IR_VERSION, opsets: OPSETS, producer: 'tiller', graph };
  }
}
