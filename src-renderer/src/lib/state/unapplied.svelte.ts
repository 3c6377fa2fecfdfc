/**
 * Fields whose typed text does not parse: the document still holds their last valid
 * value, so nothing may call it valid, or run it, while any are left. The variant editor
 * provides one per variant, the workbench one for the generation settings; fields outside
 * either find none and skip it.
 */
import { createContext } from 'svelte';
import { SvelteMap } from 'svelte/reactivity';

export class UnappliedFields {
  /** Field id -> what is wrong with it ("Temperature: must be at least 0"). */
  #fields = new SvelteMap<string, string>();

  get count(): number {
    return this.#fields.size;
  }

  /** One line per field, for a notice that says what to fix. */
  get messages(): string[] {
    return [...this.#fields.values()];
  }

  set(id: string, unapplied: boolean, what = 'a field holds text that does not parse'): void {
    if (unapplied) this.#fields.set(id, what);
    else this.#fields.delete(id);
  }
}

export const [getUnappliedFields, setUnappliedFields, hasUnappliedFields] = createContext<UnappliedFields>();

/** The editor's tracker, when the field sits inside one. Call during component init. */
export function unappliedFields(): UnappliedFields | null {
  return hasUnappliedFields() ? getUnappliedFields() : null;
}
