/**
 * docs/tiller-experiment.schema.json is the experiment schema for other tools: it must
 * match the schema the app validates with. TILLER_UPDATE_SCHEMA=1 rewrites it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import { saveExperiment } from './file';
import { experimentJsonSchema } from './schema';
import { sampleExperiment } from './test/fixtures';

const SCHEMA_FILE = resolve(__dirname, '..', '..', '..', 'docs', 'tiller-experiment.schema.json');

describe('experiment JSON Schema', () => {
  it('matches docs/tiller-experiment.schema.json (TILLER_UPDATE_SCHEMA=1 rewrites it)', () => {
    const text = `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`;
    if (process.env.TILLER_UPDATE_SCHEMA === '1') writeFileSync(SCHEMA_FILE, text);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(text);
  });

  it('accepts the files the app writes, sidecar references included, and refuses broken ones', () => {
    const validate = new Ajv2020({ strict: false }).compile(experimentJsonSchema());
    const dir = mkdtempSync(join(tmpdir(), 'tiller-json-schema-'));
    try {
      const path = join(dir, 'sweep.tiller.json');
      saveExperiment(path, sampleExperiment(3, 96)); // 96-value vectors go to the sidecar
      const written = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
      expect(written.variants[1].interventions[0].vector).toHaveProperty('$tensor');
      expect(validate(written), JSON.stringify(validate.errors)).toBe(true);

      written.variants[1].interventions[0].op = 'nudge';
      expect(validate(written)).toBe(false);
      delete written.variants;
      expect(validate(written)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
