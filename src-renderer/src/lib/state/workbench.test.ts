import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Experiment, ExperimentResults, RequestOf, Variant, WorkbenchApi } from '../api/types';
import { ApiError } from '../api/errors';
import { modelRefOf, newExperiment } from '../logic/defaults';
import { IDLE, MODEL, fakeWorkbenchApi, generatedIds, token } from '../../test/fixtures';
import { Session } from './session.svelte';
import { Workbench } from './workbench.svelte';

/** The shared fake engine, answering openExperiment with this file's saved experiment. */
function fakeApi(overrides: Partial<WorkbenchApi> = {}) {
  return fakeWorkbenchApi({
    openExperiment: vi.fn(async ({ path }: { path: string }) => ({ path, experiment: savedExperiment(), warnings: [] })),
    ...overrides,
  });
}

function results(ids: string[]): ExperimentResults {
  return {
    ranAt: '2026-01-01T00:00:00.000Z',
    provider: 'cpu',
    promptIds: [1, 2],
    variants: ids.map((variantId, i) => ({ variantId, tokens: [token(10 + i, `t${i}`, -0.5)], text: `t${i}`, stopReason: 'max_tokens', tokensPerSecond: 50 })),
  };
}

function savedExperiment(): Experiment {
  const experiment = { ...newExperiment(modelRefOf(MODEL)), name: 'Saved one' };
  return { ...experiment, results: results([experiment.variants[0].id]) };
}

async function started(overrides: Partial<WorkbenchApi> = {}) {
  const { api, emit } = fakeApi(overrides);
  const bench = new Workbench(new Session(api, 'websocket'));
  await bench.start();
  return { bench, api, emit };
}

describe('workbench controller', () => {
  let bench: Workbench | null = null;
  afterEach(() => {
    bench?.dispose();
    bench = null;
    vi.useRealTimers();
  });

  it('starts with the engine’s model and offers an autosave to restore', async () => {
    const recovered = { experiment: { ...newExperiment(null), name: 'Lost work' }, path: null };
    const setup = await started({ recoverAutosave: vi.fn(async () => recovered) });
    bench = setup.bench;
    expect(bench.doc.model).toEqual(modelRefOf(MODEL));
    expect(bench.doc.dirty).toBe(false);
    expect(bench.recovered?.experiment.name).toBe('Lost work');
    bench.restoreRecovered();
    expect(bench.doc.name).toBe('Lost work');
    expect(bench.doc.path).toBeNull();
    expect(bench.doc.dirty).toBe(true);
    expect(bench.recovered).toBeNull();
  });

  it('restores an autosave into the file it was editing: Save writes there, and autosaves keep naming it', async () => {
    vi.useFakeTimers();
    const recovered = { experiment: { ...newExperiment(modelRefOf(MODEL)), name: 'Sweep' }, path: '/runs/sweep.tiller.json' };
    const setup = await started({ recoverAutosave: vi.fn(async () => recovered) });
    bench = setup.bench;
    bench.restoreRecovered();
    expect(bench.doc.path).toBe('/runs/sweep.tiller.json');
    expect(bench.doc.dirty).toBe(true);
    bench.doc.setPromptText('more');
    await vi.advanceTimersByTimeAsync(5000);
    expect(setup.api.autosave).toHaveBeenCalledWith({ experiment: expect.objectContaining({ name: 'Sweep' }), path: '/runs/sweep.tiller.json' });
    await bench.menu('save');
    expect(bench.dialogs.path).toBeNull(); // no Save As: the file is known
    expect(setup.api.saveExperiment).toHaveBeenCalledWith({ path: '/runs/sweep.tiller.json', experiment: expect.objectContaining({ name: 'Sweep' }) });
    expect(bench.doc.dirty).toBe(false);
  });

  it('generates, streams tokens that arrive before the run id, and stores the results', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const setup = await started({
      generate: vi.fn(async ({ variants }: RequestOf<'generate'>) => {
        await gate;
        return { runId: 'run-1', promptIds: [1, 2], variantIds: generatedIds(variants, null) };
      }),
    });
    bench = setup.bench;
    const ids = bench.doc.variants.map((variant) => variant.id);
    const running = bench.generate();
    expect(bench.view).toBe('compare');
    setup.emit({ type: 'token', runId: 'run-1', variant: 0, index: 0, token: token(10, 't0', -0.5) });
    release();
    await running;
    expect(setup.api.generate).toHaveBeenCalledWith({
      prompt: { text: 'Once upon a time', chat: false },
      settings: expect.objectContaining({ seed: 0 }),
      consistency: { enabled: true, fromLayer: 0, answers: [] },
      variants: [expect.objectContaining({ id: ids[0] })],
      only: null,
    });
    setup.emit({ type: 'done', runId: 'run-1', results: results(ids) });
    expect(bench.doc.results?.variants[0].tokens[0].text).toBe('t0');
    expect(bench.columns.map((column) => column.name)).toEqual(['Baseline']);
    expect(bench.columns[0].stopReason).toBe('max_tokens');
    expect(bench.doc.dirty).toBe(true);
  });

  it('regenerates only the variant the live slider moved: the other columns stay, then its column is replaced', async () => {
    const setup = await started();
    bench = setup.bench;
    bench.doc.addVariant();
    bench.doc.addVariant();
    const ids = bench.doc.variants.map((variant) => variant.id);
    await bench.generate();
    setup.emit({ type: 'done', runId: 'run-1', results: results(ids) });
    const stored = bench.doc.results;

    await bench.generate({ show: false, only: ids[2] });
    expect(setup.api.generate).toHaveBeenLastCalledWith(expect.objectContaining({ only: ids[2] }));
    expect(bench.run.variantIds).toEqual([ids[0], ids[2]]);
    setup.emit({ type: 'token', runId: 'run-1', variant: 1, index: 0, token: token(77, 'new', -0.1) });
    await vi.waitFor(() => expect(bench?.columns[2].tokens.map((item) => item.text)).toEqual(['new']));
    expect(bench.columns.map((column) => column.tokens.map((item) => item.text))).toEqual([['t0'], ['t1'], ['new']]);
    const fresh = { ...results([ids[0], ids[2]]), ranAt: '2026-01-02T00:00:00.000Z' };
    fresh.variants[1] = { ...fresh.variants[1], tokens: [token(77, 'new', -0.1)], text: 'new' };
    setup.emit({ type: 'done', runId: 'run-1', results: fresh });
    expect(bench.doc.results?.variants.map((variant) => variant.text)).toEqual(['t0', 't1', 'new']);
    expect(bench.doc.results?.variants[0]).toBe(stored?.variants[0]);
    expect(bench.doc.results?.ranAt).toBe('2026-01-02T00:00:00.000Z');

    // Once the settings change, the other columns are out of date: every variant runs.
    bench.doc.updateSettings({ maxNewTokens: 5 });
    await bench.generate({ show: false, only: ids[2] });
    expect(setup.api.generate).toHaveBeenLastCalledWith(expect.objectContaining({ only: null }));
    expect(bench.run.variantIds).toEqual(ids);
    setup.emit({ type: 'done', runId: 'run-1', results: results(ids) });
    // So do they once internal consistency is turned off (they hold lens readings a new column would not).
    bench.doc.updateConsistency({ enabled: false });
    await bench.generate({ show: false, only: ids[2] });
    expect(setup.api.generate).toHaveBeenLastCalledWith(expect.objectContaining({ only: null, consistency: { enabled: false, fromLayer: 0, answers: [] } }));
  });

  describe('weight formats', () => {
    const INT8 = { ...MODEL, weights: { format: 'int8' as const, blockSize: 32, accuracyLevel: 4 as const } };

    it('an experiment made with int8 weights, opened on the float32 model, says so and loads its format back', async () => {
      let loaded = MODEL;
      const setup = await started({
        status: vi.fn(async () => ({ ...IDLE, model: loaded })),
        openExperiment: vi.fn(async ({ path }: { path: string }) => ({ path, experiment: { ...savedExperiment(), model: modelRefOf(INT8) }, warnings: [] })),
        loadModel: vi.fn(async () => ((loaded = INT8), INT8)),
      });
      bench = setup.bench;
      await bench.open('/runs/int8.tiller.json');
      expect(bench.doc.model?.weights).toEqual(INT8.weights); // recorded in the file
      expect(bench.weightsMismatch).toBe(true);
      expect(bench.modelMismatch).toBe(true);
      await bench.loadModel(INT8.path, bench.doc.model?.weights);
      expect(setup.api.loadModel).toHaveBeenCalledWith({ path: INT8.path, weights: INT8.weights });
      expect(bench.weightsMismatch).toBe(false);
      expect(bench.modelMismatch).toBe(false);
    });

    it('an experiment without a recorded format was made with float32', async () => {
      const setup = await started({ openExperiment: vi.fn(async ({ path }: { path: string }) => ({ path, experiment: { ...savedExperiment(), model: { ...modelRefOf(MODEL), weights: undefined } }, warnings: [] })) });
      bench = setup.bench;
      await bench.open('/runs/old.tiller.json');
      expect(bench.weightsMismatch).toBe(false);
    });

    it('a load from the catalogue or a file dialog takes the format the engine proposes', async () => {
      const setup = await started({
        modelMemory: vi.fn(async () => ({ needs: { f32: 30e9, int8: 8e9, int4: 5e9 }, availableBytes: 16e9, recommended: 'int8' as const, reason: 'float32 does not fit' })),
      });
      bench = setup.bench;
      await bench.loadAdvised('/models/big');
      expect(setup.api.loadModel).toHaveBeenCalledWith({ path: '/models/big', weights: { format: 'int8' } });
    });

    it('shows conversion progress of the model being loaded, and clears it when the load ends', async () => {
      let finish: (value: typeof INT8) => void = () => {};
      const setup = await started({ loadModel: vi.fn(() => new Promise<typeof INT8>((resolve) => (finish = resolve))) });
      bench = setup.bench;
      const loading = bench.loadModel('/models/big', { format: 'int8' });
      setup.emit({ type: 'conversion', path: '/models/other', weights: 'int8-b32-a4', doneBytes: 1, totalBytes: 2, bytesPerSecond: 1 });
      expect(bench.session.conversion).toBeNull(); // another load's
      setup.emit({ type: 'conversion', path: '/models/big', weights: 'int8-b32-a4', doneBytes: 5, totalBytes: 10, bytesPerSecond: 100 });
      expect(bench.session.conversion).toEqual({ weights: 'int8-b32-a4', doneBytes: 5, totalBytes: 10, bytesPerSecond: 100 });
      finish(INT8);
      await loading;
      expect(bench.session.conversion).toBeNull();
    });
  });

  describe('results belong to the model that made them', () => {
    const OTHER = { ...MODEL, path: '/models/other', architecture: 'Qwen2ForCausalLM', fingerprint: 'other-fp' };

    /** An engine whose status follows loadModel, with `Saved one` (results of MODEL) open. */
    async function withResultsThenOtherModel() {
      let loaded = MODEL;
      const setup = await started({
        status: vi.fn(async () => ({ ...IDLE, model: loaded })),
        loadModel: vi.fn(async () => ((loaded = OTHER), OTHER)),
      });
      await setup.bench.open('/runs/saved.tiller.json');
      await setup.bench.loadModel(OTHER.path);
      return setup;
    }

    it('keeps results with their model after another loads, marked stale, and Save writes them under it', async () => {
      const setup = await withResultsThenOtherModel();
      bench = setup.bench;
      expect(bench.session.model?.fingerprint).toBe('other-fp');
      expect(bench.doc.model?.fingerprint).toBe(MODEL.fingerprint);
      expect(bench.resultsStale).toBe(true);
      expect(bench.notices.items.at(-1)?.message).toMatch(/stay with tiny \(LlamaForCausalLM\)/);
      bench.doc.setPromptText('edited meanwhile');
      await bench.save();
      const saved = vi.mocked(setup.api.saveExperiment).mock.calls[0][0].experiment;
      expect(saved.model).toEqual(modelRefOf(MODEL));
      expect(saved.results?.variants).toHaveLength(1);
    });

    it('discards stale results only with consent, and then names the loaded model', async () => {
      const setup = await withResultsThenOtherModel();
      bench = setup.bench;
      const refused = bench.discardStaleResults();
      await vi.waitFor(() => expect(bench?.dialogs.confirmation?.title).toBe('Discard these results?'));
      bench.dialogs.confirmation?.settle(false);
      await refused;
      expect(bench.doc.results).not.toBeNull();
      const agreed = bench.discardStaleResults();
      await vi.waitFor(() => expect(bench?.dialogs.confirmation).not.toBeNull());
      bench.dialogs.confirmation?.settle(true);
      await agreed;
      expect(bench.doc.results).toBeNull();
      expect(bench.doc.model).toEqual(modelRefOf(OTHER));
      expect(bench.resultsStale).toBe(false);
      await bench.save();
      expect(setup.api.saveExperiment).toHaveBeenCalledWith({ path: '/runs/saved.tiller.json', experiment: expect.objectContaining({ model: modelRefOf(OTHER), results: null }) });
    });

    it('runs on the loaded model only after the user agrees to drop results of another model, then stores the new ones with it', async () => {
      const setup = await withResultsThenOtherModel();
      bench = setup.bench;
      const refused = bench.generate();
      await vi.waitFor(() => expect(bench?.dialogs.confirmation?.title).toBe('Discard these results?'));
      bench.dialogs.confirmation?.settle(false);
      await refused;
      expect(setup.api.generate).not.toHaveBeenCalled();
      expect(bench.doc.model?.fingerprint).toBe(MODEL.fingerprint);

      const agreed = bench.generate();
      await vi.waitFor(() => expect(bench?.dialogs.confirmation).not.toBeNull());
      bench.dialogs.confirmation?.settle(true);
      await agreed;
      expect(setup.api.generate).toHaveBeenCalledTimes(1);
      setup.emit({ type: 'done', runId: 'run-1', results: results(bench.doc.variants.map((variant) => variant.id)) });
      expect(bench.doc.model).toEqual(modelRefOf(OTHER));
      expect(bench.doc.results?.variants).toHaveLength(1);
      expect(bench.resultsStale).toBe(false);
    });

    it('treats Inside analyses as results: they keep their model, and a new analysis on another model asks first', async () => {
      let loaded = MODEL;
      const setup = await started({ status: vi.fn(async () => ({ ...IDLE, model: loaded })), loadModel: vi.fn(async () => ((loaded = OTHER), OTHER)) });
      bench = setup.bench;
      const record = { kind: 'lens', id: 'a1', createdAt: 'now', labels: {} } as unknown as Parameters<typeof bench.doc.addAnalysis>[0];
      bench.doc.addAnalysis(record);
      await bench.loadModel(OTHER.path);
      expect(bench.doc.model?.fingerprint).toBe(MODEL.fingerprint);
      expect(bench.resultsStale).toBe(true);
      const starting = bench.inside.start({ kind: 'lens', input: { text: 'x' } } as Parameters<typeof bench.inside.start>[0]);
      await vi.waitFor(() => expect(bench?.dialogs.confirmation?.title).toBe('Discard these analyses?'));
      bench.dialogs.confirmation?.settle(false);
      await starting;
      expect(bench.doc.analyses).toHaveLength(1);
      expect(bench.inside.running).toBeNull();
    });

    it('lets an experiment without results follow the loaded model', async () => {
      let loaded = MODEL;
      const setup = await started({ status: vi.fn(async () => ({ ...IDLE, model: loaded })), loadModel: vi.fn(async () => ((loaded = OTHER), OTHER)) });
      bench = setup.bench;
      await bench.loadModel(OTHER.path);
      expect(bench.doc.model).toEqual(modelRefOf(OTHER));
      expect(bench.modelMismatch).toBe(false);
    });
  });

  it('cancels the running generation (Stop, Esc, the menu)', async () => {
    const setup = await started();
    bench = setup.bench;
    await bench.generate();
    expect(bench.run.active).toBe(true);
    setup.emit({ type: 'menu', command: 'cancel', path: null });
    await vi.waitFor(() => expect(setup.api.cancel).toHaveBeenCalledWith({ runId: 'run-1' }));
  });

  it('keeps the saved results when a run fails before its first token', async () => {
    const setup = await started();
    bench = setup.bench;
    const id = bench.doc.variants[0].id;
    bench.doc.setResults(results([id]), modelRefOf(MODEL));
    await bench.generate();
    setup.emit({ type: 'error', runId: 'run-1', error: { code: 'bad_plan', message: 'block 2 is skipped' } });
    expect(bench.columns[0].tokens[0].text).toBe('t0');
    expect(bench.notices.items.at(-1)?.message).toBe('Generation failed: block 2 is skipped');
  });

  it('refuses to generate a variant with problems and says which', async () => {
    const setup = await started();
    bench = setup.bench;
    const index = bench.doc.addVariant();
    bench.doc.updateVariant(index, { ...bench.doc.variants[index], interventions: [{ op: 'add', hook: 'blocks.1.hook_resid_post', vector: [], scale: 4, positions: 'all' }] });
    await bench.generate();
    expect(setup.api.generate).not.toHaveBeenCalled();
    expect(bench.notices.items[0].details[0]).toMatch(/Variant 1 › interventions\.0\.vector: no vector yet/);
  });

  it('maps menu commands to the same actions: save asks for a path, then saves there', async () => {
    const setup = await started();
    bench = setup.bench;
    bench.doc.setPromptText('Hello');
    const saving = bench.menu('save');
    await vi.waitFor(() => expect(bench?.dialogs.path?.title).toBe('Save experiment as'));
    bench.dialogs.path?.settle('/runs/x.tiller.json');
    await saving;
    expect(setup.api.saveExperiment).toHaveBeenCalledWith({ path: '/runs/x.tiller.json', experiment: expect.objectContaining({ prompt: { text: 'Hello', chat: false } }) });
    expect(setup.api.autosave).toHaveBeenCalledWith({ experiment: null });
    expect(bench.doc.path).toBe('/runs/x.tiller.json');
    expect(bench.doc.dirty).toBe(false);
  });

  it('opens a file named by a menu event and shows its saved results at once', async () => {
    const setup = await started();
    bench = setup.bench;
    setup.emit({ type: 'menu', command: 'open-recent', path: '/runs/saved.tiller.json' });
    await vi.waitFor(() => expect(bench?.doc.name).toBe('Saved one'));
    expect(setup.api.openExperiment).toHaveBeenCalledWith({ path: '/runs/saved.tiller.json' });
    expect(bench.view).toBe('compare');
    expect(bench.columns).toHaveLength(1);
    expect(setup.api.generate).not.toHaveBeenCalled();
  });

  it('shows a crash and restarts the engine without touching the experiment', async () => {
    const setup = await started();
    bench = setup.bench;
    bench.doc.setPromptText('keep me');
    setup.emit({ type: 'status', status: { ...IDLE, state: 'crashed', model: null, error: { code: 'internal', message: 'engine exited with code 139' } } });
    expect(bench.session.crashed).toBe(true);
    expect(bench.canGenerate).toBe(false);
    await bench.restartEngine();
    expect(setup.api.restartEngine).toHaveBeenCalled();
    expect(bench.session.crashed).toBe(false);
    expect(bench.doc.prompt.text).toBe('keep me');
  });

  it('ends the run when the engine crashes mid-generation, keeping its tokens and the document; a restarted engine generates again', async () => {
    let runs = 0;
    const setup = await started({ generate: vi.fn(async ({ variants }: RequestOf<'generate'>) => ({ runId: `run-${++runs}`, promptIds: [1, 2], variantIds: generatedIds(variants, null) })) });
    bench = setup.bench;
    bench.doc.setPromptText('unsaved prompt');
    const before = JSON.stringify(bench.doc.toExperiment(new Date(0)));
    await bench.generate();
    setup.emit({ type: 'token', runId: 'run-1', variant: 0, index: 0, token: token(10, 't0', -0.5) });
    const crash = 'the engine process exited unexpectedly (code 139); unsaved work is kept, restart the engine to go on';
    setup.emit({ type: 'status', status: { ...IDLE, state: 'crashed', model: null, error: { code: 'runtime_error', message: crash } } });

    expect(bench.run.active).toBe(false);
    expect(bench.run.phase).toBe('failed');
    expect(bench.run.error).toBe(crash);
    expect(bench.notices.items.at(-1)?.message).toBe(`Generation failed: ${crash}`);
    expect(bench.columns[0].tokens.map((record) => record.text)).toEqual(['t0']);
    expect(JSON.stringify(bench.doc.toExperiment(new Date(0)))).toBe(before);
    expect(bench.doc.dirty).toBe(true);

    await bench.restartEngine();
    expect(bench.canGenerate).toBe(true);
    await bench.generate();
    expect(setup.api.generate).toHaveBeenCalledTimes(2);
    expect(bench.run.runId).toBe('run-2');
    const ids = bench.doc.variants.map((variant) => variant.id);
    setup.emit({ type: 'done', runId: 'run-2', results: results(ids) });
    expect(bench.run.phase).toBe('finished');
    expect(bench.doc.results?.variants[0].tokens[0].text).toBe('t0');
  });

  it('ends the run once when the engine reports it failed and then that it crashed', async () => {
    const setup = await started();
    bench = setup.bench;
    await bench.generate();
    const message = 'the engine process exited unexpectedly (code 139); unsaved work is kept, restart the engine to go on';
    setup.emit({ type: 'error', runId: 'run-1', error: { code: 'runtime_error', message } });
    setup.emit({ type: 'status', status: { ...IDLE, state: 'crashed', model: null, error: { code: 'runtime_error', message } } });
    expect(bench.run.phase).toBe('failed');
    expect(bench.notices.items.filter((notice) => notice.message.startsWith('Generation failed'))).toHaveLength(1);
  });

  it('ends the run when the engine crashes before generate answers, reporting it once', async () => {
    let reject: (error: Error) => void = () => {};
    const setup = await started({ generate: vi.fn(() => new Promise<never>((_resolve, fail) => (reject = fail))) });
    bench = setup.bench;
    const running = bench.generate();
    setup.emit({ type: 'status', status: { ...IDLE, state: 'crashed', model: null, error: { code: 'runtime_error', message: 'engine gone' } } });
    expect(bench.run.active).toBe(false);
    reject(new ApiError('runtime_error', 'engine gone while handling this request'));
    await running;
    expect(bench.run.error).toBe('engine gone');
    expect(bench.notices.items.map((notice) => notice.message)).toEqual(['Generation failed: engine gone']);
  });

  it('ends the run when the connection to the engine closes, as the WebSocket reports it', async () => {
    const setup = await started();
    bench = setup.bench;
    bench.doc.setPromptText('unsaved prompt');
    await bench.generate();
    setup.emit({ type: 'token', runId: 'run-1', variant: 0, index: 0, token: token(10, 't0', -0.5) });
    bench.setConnection('closed');
    expect(bench.session.connection).toBe('closed');
    expect(bench.run.active).toBe(false);
    expect(bench.run.error).toBe('the connection to the engine closed');
    expect(bench.notices.items.at(-1)?.message).toBe('Generation failed: the connection to the engine closed');
    expect(bench.columns[0].tokens).toHaveLength(1);
    expect(bench.doc.prompt.text).toBe('unsaved prompt');
  });

  it('shows a failed load and, from the engine’s status, the model it still holds', async () => {
    // The engine keeps its model when a load fails and reports the error in its status.
    let engine = IDLE;
    const setup = await started({
      status: vi.fn(async () => engine),
      loadModel: vi.fn(async () => {
        engine = { ...IDLE, error: { code: 'not_found', message: '/nope does not exist' } };
        throw new ApiError('not_found', '/nope does not exist');
      }),
    });
    bench = setup.bench;
    await bench.loadModel('/nope');
    expect(setup.api.loadModel).toHaveBeenCalledTimes(1);
    expect(bench.session.loadError).toBe('/nope does not exist');
    expect(bench.session.loadingPath).toBeNull();
    expect(bench.session.status?.error?.code).toBe('not_found');
    expect(bench.session.model?.path).toBe(MODEL.path);
    expect(bench.doc.model).toEqual(modelRefOf(MODEL));
    expect(bench.modelMismatch).toBe(false);
  });

  it('suggests saving beside the latest recent experiment (the in-page dialog needs a full path)', async () => {
    const setup = await started({ listRecent: vi.fn(async () => [{ path: '/data/runs/old.tiller.json', name: 'old', openedAt: '2026-01-01T00:00:00.000Z' }]) });
    bench = setup.bench;
    const saving = bench.saveAs();
    await vi.waitFor(() => expect(bench?.dialogs.path?.defaultPath).toBe('/data/runs/Untitled-experiment.tiller.json'));
    bench.dialogs.path?.settle(null);
    await saving;
  });

  it('suggests the engine’s default folder when there is no file and no recent one (never a relative path)', async () => {
    const setup = await started();
    bench = setup.bench;
    const saving = bench.saveAs();
    await vi.waitFor(() => expect(bench?.dialogs.path?.defaultPath).toBe('/home/me/Documents/Untitled-experiment.tiller.json'));
    bench.dialogs.path?.settle(null);
    await saving;
  });

  it('will not generate while a settings field holds text that is not applied, and says which', async () => {
    const setup = await started();
    bench = setup.bench;
    bench.settingsFields.set('t', true, 'Temperature: must be at least 0');
    expect(bench.canGenerate).toBe(false);
    expect(bench.settingsBlock).toMatch(/not applied/);
    await bench.menu('generate'); // the shortcut and the menu reach generate() with the button disabled
    expect(setup.api.generate).not.toHaveBeenCalled();
    expect(bench.notices.items.at(-1)).toMatchObject({ kind: 'error', details: ['Temperature: must be at least 0'] });
    bench.settingsFields.set('t', false);
    expect(bench.canGenerate).toBe(true);
    await bench.generate();
    expect(setup.api.generate).toHaveBeenCalledTimes(1);
  });

  it('generates variants that have only warnings, and refuses errors the engine reported', async () => {
    const validateVariant = vi.fn(async ({ variant }: { variant: Variant }) => ({
      issues:
        variant.name === 'Warned'
          ? [{ path: 'interventions[0]', message: 'blocks.2.hook_resid_post is in block 2, which the schedule skips: no effect', severity: 'warning' as const }]
          : variant.name === 'Refused'
            ? [{ path: 'interventions[0].hook', message: 'not a hook of this model' }]
            : [],
    }));
    const setup = await started({ validateVariant });
    bench = setup.bench;
    const index = bench.doc.addVariant();
    bench.doc.updateVariant(index, { ...bench.doc.variants[index], name: 'Warned' });
    bench.checks.sync(bench.doc.variants, bench.session.model);
    await vi.waitFor(() => expect(bench?.checks.result(bench.doc.variants[index], MODEL)).toMatchObject({ state: 'done' }));
    await bench.generate();
    expect(setup.api.generate).toHaveBeenCalledTimes(1);

    await bench.cancel();
    bench.run.clear();
    bench.doc.updateVariant(index, { ...bench.doc.variants[index], name: 'Refused' });
    bench.checks.sync(bench.doc.variants, bench.session.model);
    await vi.waitFor(() => expect(bench?.checks.result(bench.doc.variants[index], MODEL)).toMatchObject({ state: 'done' }));
    await bench.generate();
    expect(setup.api.generate).toHaveBeenCalledTimes(1);
    expect(bench.notices.items.at(-1)?.details).toEqual(['Refused › interventions.0.hook: not a hook of this model']);
  });

  it('deletes a variant with an Undo that puts it back where it was', async () => {
    const setup = await started();
    bench = setup.bench;
    bench.doc.addVariant();
    bench.doc.addVariant();
    const names = bench.doc.variants.map((variant) => variant.name);
    bench.selected = 1;
    bench.removeVariant(1);
    expect(bench.doc.variants.map((variant) => variant.name)).toEqual([names[0], names[2]]);
    const notice = bench.notices.items.at(-1);
    expect(notice).toMatchObject({ kind: 'info', message: `Deleted variant “${names[1]}”`, action: { label: 'Undo' } });
    bench.notices.act(notice!.id);
    expect(bench.doc.variants.map((variant) => variant.name)).toEqual(names);
    expect(bench.selected).toBe(1);
    expect(bench.notices.items).toEqual([]);
  });

  it('adds a variant of several steps (a tracing cell) with each step’s origin at its own index', async () => {
    const setup = await started();
    bench = setup.bench;
    const noise = { op: 'add' as const, hook: 'hook_embed', vector: [0.5], scale: 1, positions: [1] };
    const restore = { op: 'patch' as const, hook: 'blocks.0.hook_resid_post', positions: [2], source: { prompt_ids: [1, 2, 3] } };
    bench.addVariantFrom({ name: 'Trace restore hidden L0 pos 2 (noise sample 0)', steps: [{ intervention: noise, origin: null }, { intervention: restore, origin: { kind: 'patch-source', text: 'a b' } }] });
    const made = bench.doc.variants[bench.selected];
    expect(made).toMatchObject({ name: 'Trace restore hidden L0 pos 2 (noise sample 0)', interventions: [noise, restore], origins: { '1': { kind: 'patch-source', text: 'a b' } } });
    expect(Object.keys(made.origins)).toEqual(['1']);
  });

  it('autosaves a changed experiment every few seconds, once per change', async () => {
    vi.useFakeTimers();
    const setup = await started();
    bench = setup.bench;
    bench.doc.setPromptText('draft');
    await vi.advanceTimersByTimeAsync(5000);
    expect(setup.api.autosave).toHaveBeenCalledTimes(1);
    expect(setup.api.autosave).toHaveBeenCalledWith({ experiment: expect.objectContaining({ prompt: { text: 'draft', chat: false } }), path: null });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(setup.api.autosave).toHaveBeenCalledTimes(1);
  });
});
