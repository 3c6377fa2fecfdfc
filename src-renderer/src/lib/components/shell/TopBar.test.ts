import { render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeWorkbenchApi } from '../../../test/fixtures';
import WithWorkbench from '../../../test/WithWorkbench.svelte';
import { Session } from '../../state/session.svelte';
import { Workbench } from '../../state/workbench.svelte';
import TopBar from './TopBar.svelte';

let bench: Workbench | null = null;
afterEach(() => {
  bench?.dispose();
  bench = null;
});

describe('window title', () => {
  it('names the file, with a dot while it has unsaved changes', async () => {
    const { api } = fakeWorkbenchApi();
    bench = new Workbench(new Session(api, 'websocket'));
    await bench.start();
    render(WithWorkbench, { props: { bench, component: TopBar } });
    await tick();
    expect(document.title).toBe('Untitled experiment (unsaved) — Tiller');
    bench.doc.setPromptText('edited');
    await tick();
    expect(document.title).toBe('● Untitled experiment (unsaved) — Tiller');
    bench.doc.markSaved('/runs/sweep.tiller.json');
    await tick();
    expect(document.title).toBe('sweep.tiller.json — Tiller');
    expect(screen.getByText('/runs/sweep.tiller.json')).toBeTruthy();
    bench.doc.setPromptText('edited again');
    await tick();
    expect(document.title).toBe('● sweep.tiller.json — Tiller');
  });
});
