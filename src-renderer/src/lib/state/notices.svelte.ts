/**
 * Messages for the user: errors stay until dismissed, information fades after a few
 * seconds (longer when it offers an action, such as Undo). The list keeps a bounded
 * history; the corner shows only the newest few (components/shell/Notices.svelte).
 */
export interface NoticeAction {
  label: string;
  run: () => void;
}

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  message: string;
  /** Extra lines, e.g. a plan's issues "interventions.0.vector: has 3 values; ...". */
  details: string[];
  action: NoticeAction | null;
}

const INFO_MS = 4000;
/** Time to reach an action's button: reading the message, moving the pointer. */
const ACTION_MS = 10_000;
const MAX_NOTICES = 20;

export class Notices {
  #items = $state.raw<Notice[]>([]);
  #nextId = 1;

  get items(): Notice[] {
    return this.#items;
  }

  error(message: string, details: string[] = []): void {
    this.#push({ id: this.#nextId++, kind: 'error', message, details, action: null });
  }

  info(message: string, action: NoticeAction | null = null): void {
    const id = this.#nextId++;
    this.#push({ id, kind: 'info', message, details: [], action });
    setTimeout(() => this.dismiss(id), action ? ACTION_MS : INFO_MS);
  }

  /** Run a notice's action once, and dismiss it. */
  act(id: number): void {
    const notice = this.#items.find((item) => item.id === id);
    this.dismiss(id);
    notice?.action?.run();
  }

  dismiss(id: number): void {
    this.#items = this.#items.filter((notice) => notice.id !== id);
  }

  dismissAll(): void {
    this.#items = [];
  }

  /** A repeat of a notice still shown replaces it (moving it to the front), rather than stacking up. */
  #push(notice: Notice): void {
    const same = (item: Notice) => item.kind === notice.kind && item.message === notice.message && item.details.join('\n') === notice.details.join('\n') && !item.action;
    this.#items = [...this.#items.filter((item) => !same(item)), notice].slice(-MAX_NOTICES);
  }
}
