/**
 * A minimal protobuf encoder for the parts of onnx.proto that Tiller writes:
 * ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto (inline or external
 * data) and ValueInfoProto. Weights live in an external-data file, so the encoded
 * model holds only the graph and stays small (see ORT-NOTES.md section 1).
 *
 * Field numbers follow onnx/onnx.proto (IR version 10).
 */

export type ElemType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool' | 'float16';

const ELEM_TYPE_CODES: Record<ElemType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
};

/** A dimension is a fixed size or a symbolic name (e.g. "batch"). */
export type Dim = number | string;

export interface TensorProtoData {
  name: string;
  elemType: ElemType;
  dims: number[];
  /** Inline bytes, or a reference into an external data file beside the model. */
  data: Uint8Array | { location: string; offset: number; length: number };
}

export type AttributeValue = number | string | number[] | { float: number } | { floats: number[] } | { tensor: TensorProtoData };

export interface NodeProtoData {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

export interface ValueInfoData {
  name: string;
  elemType: ElemType;
  /** null leaves the shape unspecified (any rank). */
  dims: Dim[] | null;
}

export interface GraphProtoData {
  name: string;
  nodes: NodeProtoData[];
  initializers: TensorProtoData[];
  inputs: ValueInfoData[];
  outputs: ValueInfoData[];
}

export interface ModelProtoData {
  irVersion: number;
  opsets: Record<string, number>; // domain ('' = ai.onnx) -> version
  producer: string;
  graph: GraphProtoData;
}

// ---------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

/** Accumulates encoded fields of one message. */
class MessageWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private tag(field: number, wire: number): void {
    this.push(encodeVarint(BigInt(field * 8 + wire)));
  }

  varint(field: number, value: number): this {
    this.tag(field, WIRE_VARINT);
    // int64 fields: negative values are encoded as 64-bit two's complement.
    this.push(encodeVarint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  message(field: number, message: MessageWriter): this {
    return this.bytes(field, message.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

function encodeVarint(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0n);
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

function encodeTensor(tensor: TensorProtoData): MessageWriter {
  const w = new MessageWriter();
  for (const dim of tensor.dims) w.varint(1, dim);
  w.varint(2, ELEM_TYPE_CODES[tensor.elemType]);
  w.string(8, tensor.name);
  if (tensor.data instanceof Uint8Array) {
    w.bytes(9, tensor.data);
  } else {
    const entries: [string, string][] = [
      ['location', tensor.data.location],
      ['offset', String(tensor.data.offset)],
      ['length', String(tensor.data.length)],
    ];
    for (const [key, value] of entries) w.message(13, new MessageWriter().string(1, key).string(2, value));
    w.varint(14, 1); // data_location = EXTERNAL
  }
  return w;
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function encodeAttribute(name: string, value: AttributeValue): MessageWriter {
  const w = new MessageWriter().string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for non-integer values`);
    w.varint(3, value).varint(20, ATTR_INT);
  } else if (typeof value === 'string') {
    w.string(4, value).varint(20, ATTR_STRING);
  } else if (Array.isArray(value)) {
    for (const item of value) w.varint(8, item);
    w.varint(20, ATTR_INTS);
  } else if ('float' in value) {
    w.float(2, value.float).varint(20, ATTR_FLOAT);
  } else if ('floats' in value) {
    for (const item of value.floats) w.float(7, item);
    w.varint(20, ATTR_FLOATS);
  } else {
    w.message(5, encodeTensor(value.tensor)).varint(20, ATTR_TENSOR);
  }
  return w;
}

function encodeNode(node: NodeProtoData): MessageWriter {
  const w = new MessageWriter();
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, node.name).string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes)) w.message(5, encodeAttribute(name, value));
  if (node.domain) w.string(7, node.domain);
  return w;
}

function encodeValueInfo(info: ValueInfoData): MessageWriter {
  const tensorType = new MessageWriter().varint(1, ELEM_TYPE_CODES[info.elemType]);
  if (info.dims) {
    const shape = new MessageWriter();
    for (const dim of info.dims) {
      const d = new MessageWriter();
      if (typeof dim === 'number') d.varint(1, dim);
      else d.string(2, dim);
      shape.message(1, d);
    }
    tensorType.message(2, shape);
  }
  const type = new MessageWriter().message(1, tensorType);
  return new MessageWriter().string(1, info.name).message(2, type);
}

function encodeGraph(graph: GraphProtoData): MessageWriter {
  const w = new MessageWriter();
  for (const node of graph.nodes) w.message(1, encodeNode(node));
  w.string(2, graph.name);
  for (const init of graph.initializers) w.message(5, encodeTensor(init));
  for (const input of graph.inputs) w.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) w.message(12, encodeValueInfo(output));
  return w;
}

export function encodeModel(model: ModelProtoData): Uint8Array {
  const w = new MessageWriter().varint(1, model.irVersion).string(2, model.producer);
  w.message(7, encodeGraph(model.graph));
  for (const [domain, version] of Object.entries(model.opsets)) {
    const opset = new MessageWriter();
    if (domain) opset.string(1, domain);
    opset.varint(2, version);
    w.message(8, opset);
  }
  return w.finish();
}
