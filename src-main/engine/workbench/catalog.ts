/**
 * The models Tiller offers to download (resources/models.json). The manifest is bundled
 * into the build as data, so it is found the same way from source, from out/ and from
 * the packaged app. Downloads land in <app data>/models/<id>/.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import manifest from '../../../resources/models.json';
import type { CatalogModel } from './protocol';

const fileSchema = z.strictObject({
  /** A plain file name inside the model's folder (no separators: it is joined to a path). */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a plain file name').refine((name) => name !== '.' && name !== '..'),
  url: z.url({ protocol: /^https?$/ }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  bytes: z.int().min(0),
});

const entrySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be usable as a folder name'),
  name: z.string().min(1),
  description: z.string(),
  /** What loadModel opens, relative to the model's folder: a checkpoint file, or "." for a Hugging Face folder. */
  entry: z.string().min(1),
  files: z.array(fileSchema).min(1),
});

export const catalogSchema = z.strictObject({ models: z.array(entrySchema) });

export type CatalogEntry = z.infer<typeof entrySchema>;
export type CatalogFile = z.infer<typeof fileSchema>;

/** The bundled manifest, checked once (a typo there should fail loudly, not at download time). */
export function bundledCatalog(): CatalogEntry[] {
  return catalogSchema.parse(manifest).models;
}

export function modelFolder(modelsDir: string, entry: CatalogEntry): string {
  return join(modelsDir, entry.id);
}

/**
 * Installed means every file is in the model's folder at its manifest size. Downloads
 * verify sha256 before an atomic rename moves the folder into place, so a folder that
 * exists was verified; the size check catches later damage cheaply.
 */
export function isInstalled(modelsDir: string, entry: CatalogEntry): boolean {
  const folder = modelFolder(modelsDir, entry);
  return entry.files.every((file) => {
    const path = join(folder, file.name);
    return existsSync(path) && statSync(path).size === file.bytes;
  });
}

export function describeCatalog(modelsDir: string, entries: CatalogEntry[]): CatalogModel[] {
  return entries.map((entry) => ({
    id: entry.id,
    name: entry.name,
    description: entry.description,
    bytes: entry.files.reduce((sum, file) => sum + file.bytes, 0),
    path: join(modelFolder(modelsDir, entry), entry.entry),
    installed: isInstalled(modelsDir, entry),
  }));
}
