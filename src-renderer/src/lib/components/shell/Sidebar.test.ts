import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeWorkbenchApi } from '../../../test/fixtures';
import WithWorkbench from '../../../test/WithWorkbench.svelte';
import { Session } from '../../state/session.svelte';
import { Workbench } from '../../state/workbench.svelte';
import RunBar from '../compare/RunBar.svelte';
import Sidebar from './Sidebar.svelte';

let bench: Workbench | null = null;
afterEach(() => {
  bench?.dispose();
  bench = null;
});

async function started() {
  const { api } = fakeWorkbenchApi();
  bench = new Workbench(new Session(api, 'websocket'));
  await bench.start();
  return { bench, api };
}

async function type(label: string, value: string) {
  await fireEvent.input(screen.getByLabelText(label, { exact: true }), { target: { value } });
}

describe('generation settings', () => {
  it('hold Generate back while a field holds text that is not applied, and say why', async () => {
    const { bench } = await started();
    render(WithWorkbench, { props: { bench, component: Sidebar } });
    render(WithWorkbench, { props: { bench, component: RunBar } });
    const generate = screen.getByRole('button', { name: '▶ Generate' }) as HTMLButtonElement;
    expect(generate.disabled).toBe(false);

    await type('Temperature', '-1');
    await type('Top-p', '5');
    expect(screen.getByText('must be at least 0')).toBeTruthy();
    expect(bench.doc.settings.temperature).toBe(0); // the document keeps its last valid value
    expect(bench.canGenerate).toBe(false);
    expect(generate.disabled).toBe(true);
    expect(generate.title).toBe('2 generation settings are not applied: fix the text marked in red');
    expect(screen.getByText('Settings not applied')).toBeTruthy();
    expect(bench.settingsFields.messages).toEqual(['Temperature: must be at least 0', 'Top-p: must be at most 1']);

    await type('Temperature', '0.7');
    await type('Top-p', '0.9');
    expect(bench.doc.settings).toMatchObject({ temperature: 0.7, topP: 0.9 });
    expect(generate.disabled).toBe(false);
  });

  it('start afresh with File > New: invalid text and its errors go with the old document', async () => {
    const { bench } = await started();
    render(WithWorkbench, { props: { bench, component: Sidebar } });
    await type('Seed', '1.5');
    await type('Max new tokens', '64');
    expect(screen.getByText('must be a whole number')).toBeTruthy();
    const replacing = bench.newExperiment();
    await vi.waitFor(() => expect(bench.dialogs.confirmation?.title).toBe('Discard changes?'));
    bench.dialogs.confirmation?.settle(true);
    await replacing;
    expect(bench.doc.settings.maxNewTokens).toBe(128);
    await vi.waitFor(() => expect(screen.queryByText('must be a whole number')).toBeNull());
    expect((screen.getByLabelText('Max new tokens') as HTMLInputElement).value).toBe('128');
    expect((screen.getByLabelText('Seed') as HTMLInputElement).value).toBe('0');
    expect(bench.settingsFields.count).toBe(0);
    expect(bench.canGenerate).toBe(true);
  });

  it('warn (without refusing) when max new tokens exceeds the model’s context', async () => {
    const { bench } = await started();
    render(WithWorkbench, { props: { bench, component: Sidebar } });
    await type('Max new tokens', '2000');
    expect(bench.doc.settings.maxNewTokens).toBe(2000);
    const warning = screen.getByText(/more than this model's context \(n_ctx = 512\)/);
    expect(warning.className).toContain('warning');
    expect(bench.canGenerate).toBe(true);
  });
});

describe('internal consistency setting', () => {
  it('turns the lens pass off and on, picks where the scores start and the answer set, and sends them with Generate', async () => {
    const { bench, api } = await started();
    render(WithWorkbench, { props: { bench, component: Sidebar } });
    const pass = screen.getByLabelText('Internal consistency (lens readings after each run)') as HTMLInputElement;
    const from = screen.getByLabelText('IC counts blocks') as HTMLSelectElement;
    const answers = screen.getByLabelText('Answer set') as HTMLInputElement;
    expect([pass.checked, from.disabled, answers.disabled]).toEqual([true, false, false]);
    // The loaded model has 5 blocks: the scores may start at any of blocks 0..3.
    expect([...from.options].map((option) => option.textContent)).toEqual(['Every block but the last', 'From the middle block (2)', 'From block 1', 'From block 2', 'From block 3']);

    await fireEvent.click(pass);
    expect(bench.doc.consistency.enabled).toBe(false);
    expect([from.disabled, answers.disabled]).toEqual([true, true]);
    await bench.generate();
    expect(api.generate).toHaveBeenLastCalledWith(expect.objectContaining({ consistency: { enabled: false, fromLayer: 0, answers: [] } }));

    await fireEvent.click(pass);
    await fireEvent.change(from, { target: { selectedIndex: 1 } });
    await type('Answer set', ' True, False');
    expect(bench.doc.consistency).toEqual({ enabled: true, fromLayer: 'middle', answers: [' True', ' False'] });
    expect(bench.doc.dirty).toBe(true);
  });
});
