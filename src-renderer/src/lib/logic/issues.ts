/**
 * Problems with a variant, located by a dotted path into it ("interventions.0.vector")
 * so each form can show them next to its field. They come from two places: the engine's
 * validateVariant (checked against the loaded model) and quick checks here that need no
 * round trip (an empty vector, a block past the last one).
 *
 * An issue with severity 'warning' marks a part that runs but does nothing useful (an
 * intervention in a skipped block, a vector measured at another hook): it is shown, in
 * amber, but it neither makes the variant invalid nor blocks Generate.
 */
import { dottedPath } from '../../../../src-shared/issues';
import type { HookInfo, Intervention, ModelInfo, Variant, VariantIssue } from '../api/types';
import { formKindOf, splitHook } from './interventions';

export function isWarning(issue: VariantIssue): boolean {
  return issue.severity === 'warning';
}

/** The issues that stop a variant from running. */
export function errorsOf(issues: readonly VariantIssue[]): VariantIssue[] {
  return issues.filter((issue) => !isWarning(issue));
}

export function warningsOf(issues: readonly VariantIssue[]): VariantIssue[] {
  return issues.filter(isWarning);
}

/** "path: message", or the message alone for the variant as a whole. */
export function issueLine(issue: VariantIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

/** The engine's issues with dotted paths ("interventions[0].vector" -> "interventions.0.vector"), as the forms key them. */
export function normalizeIssues(issues: readonly VariantIssue[]): VariantIssue[] {
  return issues.map((issue) => ({ path: dottedPath(issue.path), message: issue.message, ...(isWarning(issue) ? { severity: 'warning' as const } : {}) }));
}

/** Issues inside `prefix`, with paths relative to it ("interventions.0.vector" -> "vector"). */
export function relativeTo(issues: readonly VariantIssue[], prefix: string): VariantIssue[] {
  return issuesAt(issues, prefix).map((issue) => ({ ...issue, path: issue.path.slice(prefix.length + 1) }));
}

/** Issues at `prefix` or inside it. */
export function issuesAt(issues: readonly VariantIssue[], prefix: string): VariantIssue[] {
  return issues.filter((issue) => issue.path === prefix || issue.path.startsWith(`${prefix}.`));
}

/** Errors exactly at `path`, as messages (what a field shows in red). */
export function messagesAt(issues: readonly VariantIssue[], path: string): string[] {
  return issues.filter((issue) => issue.path === path && !isWarning(issue)).map((issue) => issue.message);
}

/** Warnings exactly at `path`, as messages. */
export function warningsAt(issues: readonly VariantIssue[], path: string): string[] {
  return issues.filter((issue) => issue.path === path && isWarning(issue)).map((issue) => issue.message);
}

export function mergeIssues(...lists: (readonly VariantIssue[])[]): VariantIssue[] {
  const seen = new Set<string>();
  const out: VariantIssue[] = [];
  for (const issue of lists.flat()) {
    const key = `${issue.path}\u0000${issue.message}\u0000${issue.severity ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}

/**
 * Checks that need no engine, errors then warnings: what the forms can get wrong before
 * the engine answers (an op not finished, a block or index past the model's). The
 * engine's validateVariant checks everything, these included, authoritatively; rules
 * that only it knows (decoding layers, patch lengths) are left to it. `hooks` is the
 * loaded model's hook list (empty: sizes are not checked here).
 */
export function checkVariant(variant: Variant, model: ModelInfo | null, hooks: readonly HookInfo[]): VariantIssue[] {
  const issues: VariantIssue[] = [];
  const warnings: VariantIssue[] = [];
  const report = (path: string, message: string) => issues.push({ path, message });
  const warn = (path: string, message: string) => warnings.push({ path, message, severity: 'warning' });
  if (variant.name.trim() === '') report('name', 'must not be empty');
  // A block past the model's last: caught here so the variant is never called valid meanwhile.
  const checkBlockOf = (path: string, name: string) => {
    const layer = splitHook(name).layer;
    if (model && layer !== null && layer >= model.nLayers) report(path, `block ${layer} is out of range (0..${model.nLayers - 1})`);
  };

  variant.interventions.forEach((step, i) => {
    const at = `interventions.${i}`;
    switch (step.op) {
      case 'add': {
        checkBlockOf(`${at}.hook`, step.hook);
        if (step.vector.length === 0) report(`${at}.vector`, 'no vector yet: make one from a token, a contrast pair or a file');
        else checkVectorWidth(step.vector, hooks.find((hook) => hook.name === step.hook), `${at}.vector`, report);
        if (!Number.isFinite(step.scale)) report(`${at}.scale`, 'must be a number');
        // The vector still runs, but it was measured for another site.
        const origin = variant.origins[String(i)];
        if (origin?.kind === 'contrast' && origin.hook !== step.hook && step.vector.length > 0)
          warn(`${at}.vector`, `measured at ${origin.hook}, not at ${step.hook}: compute it again for this hook`);
        break;
      }
      case 'set':
      case 'scale': {
        if (step.indices.length === 0) report(`${at}.indices`, 'must not be empty');
        if (step.values.length === 0) report(`${at}.values`, 'must not be empty');
        else if (step.values.length !== 1 && step.values.length !== step.indices.length)
          report(`${at}.values`, `has ${step.values.length} values for ${step.indices.length} indices; give one per index, or one for all`);
        const range = model ? indexRange(step, model) : null;
        const outside = range ? step.indices.find((index) => index >= range.size) : undefined;
        if (range && outside !== undefined) report(`${at}.indices`, `${range.what} ${outside} is out of range (0..${range.size - 1})`);
        checkBlockOf(`${at}.hook`, step.hook);
        break;
      }
      case 'schedule':
        if (step.blocks.length === 0) report(`${at}.blocks`, 'must run at least one block');
        if (model) step.blocks.forEach((block, j) => block >= model.nLayers && report(`${at}.blocks.${j}`, `block ${block} is out of range (0..${model.nLayers - 1})`));
        break;
      case 'patch':
        checkBlockOf(`${at}.hook`, step.hook);
        if ('prompt_ids' in step.source && step.source.prompt_ids.length === 0) report(`${at}.source.prompt_ids`, 'no source prompt yet: type one and tokenize it');
        break;
      case 'lens':
        if (model) step.layers.forEach((layer, j) => layer >= model.nLayers && report(`${at}.layers.${j}`, `block ${layer} is out of range (0..${model.nLayers - 1})`));
        break;
      case 'weight_delta':
        checkBlockOf(`${at}.param`, step.param);
        break;
    }
  });

  return [...issues, ...warnings];
}

/**
 * An add's vector is as wide as its hook's last dim (d_model at a residual hook, d_head at
 * a head site, d_mlp at an MLP site), in the engine's words (hooks/plan.ts checkVector).
 */
function checkVectorWidth(vector: readonly number[], hook: HookInfo | undefined, path: string, report: (path: string, message: string) => void): void {
  const width = hook?.shape.at(-1);
  if (hook === undefined || typeof width !== 'number' || vector.length === width) return;
  report(path, `has ${vector.length} values; ${hook.name} needs ${hook.dims.at(-1)} = ${width}`);
}

/** What a clamp's or a head ablation's indices count, and how many there are; null for other ops. */
function indexRange(step: Intervention, model: ModelInfo): { what: string; size: number } | null {
  switch (formKindOf(step)) {
    case 'clamp':
      return { what: 'neuron', size: model.dMlp };
    case 'heads':
      return { what: 'head', size: model.nHeads };
    default:
      return null;
  }
}
