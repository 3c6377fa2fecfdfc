/**
 * Neuronpedia's vector JSON, in the field names of each endpoint (interchange/README.md):
 *
 *   POST /api/vector/new           { modelId, layerNumber, hookType, vector, vectorDefaultSteerStrength, vectorLabel }
 *   /api/vector/get (a Neuron)     { modelId, layer: "L-source", index, hookName, vector, vectorLabel, vectorDefaultSteerStrength }
 *   POST /v1/steer/completion      { model, vectors: [{ steeringVector, strength, hook }], ... }
 *   SAEDashboard vector sets       { vectors: [[...]], config: { hook_name, model_name, vector_names } }
 *
 * The server names the site blocks.{layerNumber}.{hookType}; hookType is hook_resid_pre or
 * hook_resid_post (its web form also says resid-pre / resid-post). Its resid_pre of layer
 * L is block L-1's output (vector-set.ts outputOfBlock), so such a vector converts to a
 * llama.cpp direction.{L-1}.
 */
import { z } from 'zod';
import { EngineError } from '../errors';
import { parseHookName } from '../hooks/names';
import { emptySet, type VectorSet } from './vector-set';

const numbers = z.array(z.number().refine(Number.isFinite, 'must be a finite number')).min(1, 'must not be empty');
const HOOK_TYPES = { hook_resid_pre: 'hook_resid_pre', 'resid-pre': 'hook_resid_pre', hook_resid_post: 'hook_resid_post', 'resid-post': 'hook_resid_post' } as const;

const vectorNewSchema = z.looseObject({
  modelId: z.string().optional(),
  layerNumber: z.int().min(0),
  hookType: z.enum(Object.keys(HOOK_TYPES) as [keyof typeof HOOK_TYPES, ...(keyof typeof HOOK_TYPES)[]]),
  vector: numbers,
  vectorDefaultSteerStrength: z.number().optional(),
  vectorLabel: z.string().optional(),
});
const neuronSchema = z.looseObject({
  modelId: z.string().optional(),
  layer: z.string(),
  hookName: z.string().nullable().optional(),
  vector: numbers,
  vectorDefaultSteerStrength: z.number().nullable().optional(),
  vectorLabel: z.string().nullable().optional(),
});
const steerSchema = z.looseObject({
  model: z.string().optional(),
  vectors: z.array(z.looseObject({ steeringVector: numbers, strength: z.number(), hook: z.string() })).min(1),
});
const vectorSetSchema = z.looseObject({
  vectors: z.array(numbers).min(1),
  config: z.looseObject({ hook_name: z.string().optional(), model_name: z.string().optional(), vector_names: z.array(z.string()).nullable().optional() }).optional(),
});

/** The Neuronpedia shape `value` has, read into a set; null when it has none of them. */
export function readNeuronpedia(value: Record<string, unknown>, file: string): VectorSet | null {
  const set = emptySet('neuronpedia');
  const checked = <T>(schema: z.ZodType<T>, what: string): T => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    throw new EngineError('bad_argument', `${file}: looks like Neuronpedia ${what} JSON, but ${issue.path.join('.') || 'the object'} ${issue.message}`);
  };
  if ('layerNumber' in value) {
    const request = checked(vectorNewSchema, '/api/vector/new');
    const hook = `blocks.${request.layerNumber}.${HOOK_TYPES[request.hookType]}`;
    set.vectors = [{ key: hook, hook, vector: Float32Array.from(request.vector) }];
    set.model = request.modelId ?? null;
    set.label = request.vectorLabel ?? null;
    set.strength = request.vectorDefaultSteerStrength ?? null;
    return set;
  }
  if ('layer' in value && 'vector' in value) {
    const neuron = checked(neuronSchema, '/api/vector/get');
    // hookName is the full site; older records have only the source id "L-name" and no site.
    const hook = neuron.hookName && parseHookName(neuron.hookName) ? neuron.hookName : null;
    if (!hook) set.warnings.push(`no hookName: the site of layer "${neuron.layer}" is not known; choose the hook when applying it`);
    set.vectors = [{ key: hook ?? neuron.layer, hook, vector: Float32Array.from(neuron.vector) }];
    set.model = neuron.modelId ?? null;
    set.label = neuron.vectorLabel ?? null;
    set.strength = neuron.vectorDefaultSteerStrength ?? null;
    return set;
  }
  if (Array.isArray(value.vectors) && value.vectors.length > 0 && !Array.isArray(value.vectors[0])) {
    const request = checked(steerSchema, '/v1/steer/completion');
    set.model = request.model ?? null;
    // Strengths differ per vector here; they are folded into the vectors, and the set's strength is 1.
    set.vectors = request.vectors.map(({ steeringVector, strength, hook }, i) => ({ key: `vectors[${i}]`, hook: parseHookName(hook) ? hook : null, vector: Float32Array.from(steeringVector, (x) => x * strength) }));
    set.strength = 1;
    return set;
  }
  if (Array.isArray(value.vectors)) {
    const vectorSet = checked(vectorSetSchema, 'SAEDashboard vector set');
    const hook = vectorSet.config?.hook_name && parseHookName(vectorSet.config.hook_name) ? vectorSet.config.hook_name : null;
    const names = vectorSet.config?.vector_names ?? [];
    set.model = vectorSet.config?.model_name ?? null;
    set.vectors = vectorSet.vectors.map((vector, i) => ({ key: names[i] ?? `vectors[${i}]`, hook, vector: Float32Array.from(vector) }));
    return set;
  }
  return null;
}

export type NeuronpediaEndpoint = 'vector-new' | 'steer-completion';

export interface NeuronpediaExport {
  modelId: string;
  label: string;
  strength: number;
}

/** One vector as the body of POST /api/vector/new, or the `vectors` entry of POST /v1/steer/completion. */
export function writeNeuronpedia(endpoint: NeuronpediaEndpoint, hook: string, vector: Float32Array, options: NeuronpediaExport): Record<string, unknown> {
  const parsed = parseHookName(hook);
  if (!parsed || parsed.layer === null || (parsed.site !== 'hook_resid_pre' && parsed.site !== 'hook_resid_post')) {
    throw new EngineError('bad_argument', `Neuronpedia steers at blocks.L.hook_resid_pre or blocks.L.hook_resid_post; ${hook} is neither`);
  }
  const values = Array.from(vector);
  if (endpoint === 'vector-new') {
    return { modelId: options.modelId, layerNumber: parsed.layer, hookType: parsed.site, vector: values, vectorDefaultSteerStrength: options.strength, vectorLabel: options.label };
  }
  return { model: options.modelId, vectors: [{ steeringVector: values, strength: options.strength, hook }] };
}
