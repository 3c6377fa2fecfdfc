/**
 * Fields whose typed text does not parse: the document still holds their last valid
 * value, so the variant editor must not call the variant valid while any are left.
 * The editor provides one per variant; fields outside an editor find none and skip it.
 */
import { createContext } from 'svelte';
import { SvelteSet } from 'svelte/reactivity';

export class UnappliedFields {
  #ids = new SvelteSet<string>();

  get count(): number {
    return this.#ids.size;
  }

  set(id: string, unapplied: boolean): void {
    if (unapplied) this.#ids.add(id);
    else this.#ids.delete(id);
  }
}

export const [getUnappliedFields, setUnappliedFields, hasUnappliedFields] = createContext<UnappliedFields>();

/** The editor's tracker, when the field sits inside one. Call during component init. */
export function unappliedFields(): UnappliedFields | null {
  return hasUnappliedFields() ? getUnappliedFields() : null;
}
