/**
 * The engine's validateVariant answers for every variant of the experiment, so the list
 * can mark a variant the engine refuses (or warns about) without opening it, and the
 * editor shows the same answer. Answers are kept by the variant's content and the model's
 * fingerprint: an edit asks again (after a pause in typing), going back to an earlier
 * state reuses its answer, and an answer never applies to a variant it was not asked for.
 *
 * Only variants that pass the quick checks (logic/issues.ts) are sent; the engine would
 * only repeat those problems in its own words.
 */
import { untrack } from 'svelte';
import { SvelteMap } from 'svelte/reactivity';
import { ApiError, errorMessage } from '../api/errors';
import type { ModelInfo, Variant, VariantIssue, WorkbenchApi } from '../api/types';
import { checkVariant, errorsOf, normalizeIssues } from '../logic/issues';

export type EngineCheck =
  | { state: 'checking' }
  | { state: 'done'; issues: VariantIssue[] }
  /** The request itself failed (no connection, a crash): nothing is known about the variant. */
  | { state: 'failed'; error: string };

export class EngineChecks {
  readonly #api: Pick<WorkbenchApi, 'validateVariant'>;
  readonly #debounce: number;
  #answers = new SvelteMap<string, EngineCheck>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(api: Pick<WorkbenchApi, 'validateVariant'>, debounce = 400) {
    this.#api = api;
    this.#debounce = debounce;
  }

  /**
   * The engine's answer for this variant as it is now; 'checking' until it arrives. Null
   * when the engine is not asked: no model, or the quick checks already found errors.
   */
  result(variant: Variant, model: ModelInfo | null): EngineCheck | null {
    const key = this.#key(variant, model);
    return key === null ? null : (this.#answers.get(key) ?? { state: 'checking' });
  }

  /**
   * Ask about the variants not asked about yet, once editing pauses; forget answers for
   * states no variant is in any more. Call from an effect whenever the variants change.
   */
  sync(variants: readonly Variant[], model: ModelInfo | null): void {
    this.cancel();
    const wanted = new Map<string, Variant>();
    for (const variant of variants) {
      const key = this.#key(variant, model);
      if (key !== null) wanted.set(key, $state.snapshot(variant) as Variant);
    }
    // The answers are this method's output, not its input: an arriving answer must not re-run the caller's effect.
    untrack(() => {
      for (const key of [...this.#answers.keys()]) if (!wanted.has(key)) this.#answers.delete(key);
      const missing = [...wanted].filter(([key]) => !this.#answers.has(key));
      if (missing.length === 0) return;
      this.#timer = setTimeout(() => {
        this.#timer = null;
        for (const [key, variant] of missing) this.#ask(key, variant);
      }, this.#debounce);
    });
  }

  /** Drop a pending (debounced) request. */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #ask(key: string, variant: Variant): void {
    if (this.#answers.has(key)) return;
    this.#answers.set(key, { state: 'checking' });
    this.#api.validateVariant({ variant }).then(
      (result) => this.#settle(key, { state: 'done', issues: normalizeIssues(result.issues) }),
      (error: unknown) => {
        const detailed = error instanceof ApiError ? detailsIssues(error.details) : [];
        this.#settle(key, detailed.length > 0 ? { state: 'done', issues: detailed } : { state: 'failed', error: errorMessage(error) });
      },
    );
  }

  /** Store an answer, unless its variant state was forgotten meanwhile. */
  #settle(key: string, answer: EngineCheck): void {
    if (this.#answers.has(key)) this.#answers.set(key, answer);
  }

  #key(variant: Variant, model: ModelInfo | null): string | null {
    // Without the hook list: a vector of the wrong width is asked about, and the engine says so in the same words.
    if (!model || errorsOf(checkVariant(variant, model, [])).length > 0) return null;
    return `${model.fingerprint}\u0000${JSON.stringify(variant)}`;
  }
}

/** Issues carried by a rejected request ({variant: ...} paths lose their "variant." prefix). */
function detailsIssues(details: Record<string, unknown> | undefined): VariantIssue[] {
  const list = details?.issues;
  if (!Array.isArray(list)) return [];
  return normalizeIssues(
    list
      .filter((item): item is VariantIssue => typeof item?.path === 'string' && typeof item?.message === 'string')
      .map((item) => ({ ...item, path: item.path.replace(/^variant\.?/, '') })),
  );
}
