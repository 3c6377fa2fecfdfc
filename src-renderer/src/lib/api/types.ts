/**
 * The engine's types, as the renderer sees them. This is the renderer's one door into
 * src-main: `import type` only (src-main/test/layering.test.ts enforces it), so no
 * engine code is bundled into the UI.
 */
export type {
  AnalysisInput,
  AnalysisProgress,
  AnalysisRecord,
  CatalogModel,
  ClampCurveInput,
  ClampScale,
  LensInput,
  LensResult,
  PatchInput,
  PatchResult,
  Decoding,
  DecodingStep,
  EngineStatus,
  Experiment,
  ExperimentResults,
  GenerationSettings,
  HookInfo,
  ImportedVectors,
  InvokeResult,
  LibraryVector,
  MenuCommand,
  ModelInfo,
  ModelMemory,
  ModelRef,
  PickKind,
  RecentExperiment,
  RecoveredSession,
  RequestOf,
  ResultOf,
  SaeSummary,
  SweepAnswer,
  TokenFeatures,
  SweepCell,
  SerializedError,
  TillerBridge,
  TokenRecord,
  TokenStreamEvent,
  Variant,
  VariantIssue,
  VariantResult,
  VectorOrigin,
  WeightFormat,
  WeightOptions,
  WorkbenchApi,
  WorkbenchEvent,
  WorkbenchMethod,
  WireError,
} from '../../../../src-main/engine/api';

import type { Variant } from '../../../../src-main/engine/api';

/** One intervention op as stored in a variant (positions and scale filled in). */
export type Intervention = Variant['interventions'][number];
export type InterventionOf<Op extends Intervention['op']> = Extract<Intervention, { op: Op }>;
export type Positions = InterventionOf<'add'>['positions'];

/**
 * A transport's reply, the same shape over Electron IPC and the WebSocket (the engine's
 * InvokeResult, with the error code widened: whatever arrives is passed on as it is).
 */
export type Reply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };
