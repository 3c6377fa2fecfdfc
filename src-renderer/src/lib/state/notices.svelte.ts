/** Messages for the user: errors stay until dismissed, information fades after a few seconds. */
export interface Notice {
  id: number;
  kind: 'error' | 'info';
  message: string;
  /** Extra lines, e.g. a plan's issues "interventions.0.vector: has 3 values; ...". */
  details: string[];
}

const INFO_MS = 4000;
const MAX_NOTICES = 5;

export class Notices {
  #items = $state.raw<Notice[]>([]);
  #nextId = 1;

  get items(): Notice[] {
    return this.#items;
  }

  error(message: string, details: string[] = []): void {
    this.#push({ id: this.#nextId++, kind: 'error', message, details });
  }

  info(message: string): void {
    const id = this.#nextId++;
    this.#push({ id, kind: 'info', message, details: [] });
    setTimeout(() => this.dismiss(id), INFO_MS);
  }

  dismiss(id: number): void {
    this.#items = this.#items.filter((notice) => notice.id !== id);
  }

  #push(notice: Notice): void {
    this.#items = [...this.#items, notice].slice(-MAX_NOTICES);
  }
}
