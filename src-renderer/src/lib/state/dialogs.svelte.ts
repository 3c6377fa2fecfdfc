/**
 * In-app modal questions: a path (where the browser has no native file dialog) and
 * yes/no confirmations. Each is a promise the dialog component settles.
 */
import type { PickKind } from '../api/types';

export interface PathRequest {
  kind: PickKind;
  title: string;
  defaultPath: string;
  confirmLabel: string;
  settle(path: string | null): void;
}

export interface ConfirmRequest {
  title: string;
  message: string;
  confirmLabel: string;
  settle(ok: boolean): void;
}

export class Dialogs {
  #path = $state.raw<PathRequest | null>(null);
  #confirm = $state.raw<ConfirmRequest | null>(null);

  get path(): PathRequest | null {
    return this.#path;
  }
  get confirmation(): ConfirmRequest | null {
    return this.#confirm;
  }
  get open(): boolean {
    return this.#path !== null || this.#confirm !== null;
  }

  askPath(kind: PickKind, title: string, defaultPath = '', confirmLabel = 'OK'): Promise<string | null> {
    this.#path?.settle(null);
    return new Promise((resolve) => {
      this.#path = {
        kind,
        title,
        defaultPath,
        confirmLabel,
        settle: (path) => {
          this.#path = null;
          resolve(path && path.trim() !== '' ? path.trim() : null);
        },
      };
    });
  }

  confirm(title: string, message: string, confirmLabel: string): Promise<boolean> {
    this.#confirm?.settle(false);
    return new Promise((resolve) => {
      this.#confirm = {
        title,
        message,
        confirmLabel,
        settle: (ok) => {
          this.#confirm = null;
          resolve(ok);
        },
      };
    });
  }

  /** Esc: close whatever is open, as a cancel. Returns whether something was open. */
  dismiss(): boolean {
    if (this.#confirm) {
      this.#confirm.settle(false);
      return true;
    }
    if (this.#path) {
      this.#path.settle(null);
      return true;
    }
    return false;
  }
}
