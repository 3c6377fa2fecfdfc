/**
 * The engine's public surface: the one file that the CLI, the app and the transports
 * import from engine/. Everything here is either a value callers need or a type they
 * pass around; internals (graph, runtime, readers) stay behind it.
 */
export { Engine, ModelHandle, type EngineOptions, type LoadOptions, type VariantRun, type VariantTokenEvent } from './engine';
export { defaultCacheDir } from './cache-dir';
export type { ConversionProgress } from './graph/weights-file';
export { conversionLine } from './conversion-line';
export { DEFAULT_ACCURACY_LEVEL, DEFAULT_BLOCK_SIZE, WEIGHT_FORMATS, weightFileBytes, weightOptions, weightOptionsLabel, weightOptionsSchema, type WeightFormat, type WeightOptions } from './model/weight-format';
export { EngineError, serializeError, type EngineErrorCode, type SerializedError } from './errors';
export { generationSettingsSchema, defaultGenerationSettings, type GenerationSettings, type GenerationSettingsInput } from './generate/settings';
export type { GenerationEvent, GenerationResult, StopReason, TokenEvent, TokenAlternative } from './generate/generate';
export { EXECUTION_PROVIDERS, type ExecutionProvider } from './runtime/protocol';
export type { ModelSpec } from './model/spec';
export type { CaptureResult } from './plan/captures';
export { listHooks, type HookInfo } from './hooks/names';
export { decodingSchema, type Decoding, type DecodingInput, type DecodingStep } from '../../src-shared/decoding-schema';
export * from './experiment/schema';
export { openExperiment, type OpenedExperiment } from './experiment/file';
export * from './workbench/protocol';
export { Workbench, type WorkbenchOptions } from './workbench/workbench';
export { variantReport } from './workbench/variant-issues';
export { defaultAppDataDir } from './workbench/app-data';
export type { CatalogEntry } from './workbench/catalog';
export { logitLens } from './analysis/lens';
export { internalConsistency, type ConsistencyRequest, type ConsistencyResult } from './analysis/consistency';
export * from '../../src-shared/consistency';
export { patchingSweep } from './analysis/patching';
export * from '../../src-shared/analysis-schema';
export { findSubject, tokenFromText } from './analysis/tokens';
export { causalTrace } from './analysis/tracing';
export { neuronAtlas } from './analysis/atlas';
export { compareAtlases } from './analysis/atlas-compare';
export { clampCurve } from './analysis/clamp-curve';
export * from '../../src-shared/clamp-schema';
export type { AnalysisProgress, AnalysisControl } from './analysis/control';
export { writePatchExport, patchCsv, PATCH_EXPORT_FORMATS, type PatchExportFormat } from './analysis/export';
export { readVectorSet, readControlVectorFile, sniffFile } from './interchange/read';
export { combineSets, outputOfBlock, asResidPost, type VectorSet, type FileVector, type VectorFormat } from './interchange/vector-set';
export { writeVectorFile, vectorFileBytes, formatOfPath, type VectorWriteOptions, type WritableFormat } from './interchange/write';
export type { NeuronpediaEndpoint } from './interchange/neuronpedia';
export { Sae, topFeatures, type SaeInfo, type FeatureActivation } from './interchange/saelens';
export { extractVectors, extractRequestSchema, EXTRACT_METHODS, type ExtractRequestInput, type ExtractResult, type ExtractedVector } from './analysis/vectors/extract';
export { READOUTS, type Readout } from './analysis/vectors/readout';
export { actAdd, actAddInterventions, type ActAddResult } from './analysis/vectors/actadd';
export { functionVector, functionVectorRequestSchema, type FunctionVectorRequestInput, type FunctionVectorResult } from './analysis/vectors/function-vector';
export { steeringSweep, sweepRequestSchema, SWEEP_SITES, type SweepRequestInput, type SweepResult, type SweepCell } from './analysis/vectors/sweep';
export type { ImportedVectors, SaeSummary, SweepAnswer } from './workbench/vectors';
export { saeFeaturesOnPrompt, type TokenFeatures } from './interchange/sae-features';
