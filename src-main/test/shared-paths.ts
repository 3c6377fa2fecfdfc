import { resolve } from 'node:path';

/** `../shared` beside the repository: real models, golden outputs and metadata (read-only). */
export const SHARED_DIR = resolve(__dirname, '..', '..', '..', 'shared');

export const sharedPath = (...parts: string[]): string => resolve(SHARED_DIR, ...parts);
