/** Native dialogs per pick kind, and experiment file names from a save dialog. */
import { describe, expect, it } from 'vitest';
import { dialogSpec, experimentSavePath } from './dialog-options';

describe('dialog options', () => {
  it('opens folders for Hugging Face models and files for the rest', () => {
    expect(dialogSpec('model-folder')).toMatchObject({ mode: 'open', properties: ['openDirectory'] });
    expect(dialogSpec('model-file')).toMatchObject({ mode: 'open', properties: ['openFile'], filters: [{ extensions: ['bin'] }] });
    expect(dialogSpec('vector-file').filters[0].extensions).toEqual(['gguf', 'safetensors', 'json']);
    expect(dialogSpec('open-experiment')).toMatchObject({ mode: 'open', properties: ['openFile'] });
    expect(dialogSpec('save-experiment')).toMatchObject({ mode: 'save' });
  });

  it('names saved experiments *.tiller.json', () => {
    expect(experimentSavePath('/x/run')).toBe('/x/run.tiller.json');
    expect(experimentSavePath('/x/run.json')).toBe('/x/run.tiller.json');
    expect(experimentSavePath('/x/run.tiller.json')).toBe('/x/run.tiller.json');
  });
});
