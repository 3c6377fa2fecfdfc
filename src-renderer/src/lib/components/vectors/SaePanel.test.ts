import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { LibraryVector } from '../../api/types';
import SaePanel from './SaePanel.svelte';

const sae = { architecture: 'jumprelu' as const, hook: 'blocks.1.hook_resid_post', dIn: 4, dSae: 16, model: 'stories', neuronpediaId: 'stories/1-res', k: null };

describe('SAE panel', () => {
  it("lists each token's top features, and adds a chosen feature's direction to the library", async () => {
    const api = {
      saeFeatures: vi.fn(async () => ({ sae, tokens: [{ id: 1, text: '<s>', features: [] }, { id: 9, text: '▁Once', features: [{ feature: 5, activation: 2.5 }, { feature: 3, activation: 0.75 }] }] })),
      saeDirection: vi.fn(async ({ feature }: { feature: number }) => ({ sae, hook: sae.hook, vector: [feature, 0, 0, 0], norm: feature })),
    };
    const added: LibraryVector[] = [];
    render(SaePanel, { props: { api, promptIds: async () => [1, 9], onadd: (vector: LibraryVector) => added.push(vector) } });
    await fireEvent.input(screen.getByLabelText(/SAELens folder/), { target: { value: '/saes/res-1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Features on the prompt' }));
    const table = await screen.findByRole('table', { name: 'Top features per token' });
    expect(table.textContent).toContain('none active');
    expect(api.saeFeatures).toHaveBeenCalledWith({ folder: '/saes/res-1', promptIds: [1, 9], top: 3 });
    await fireEvent.click(screen.getByRole('button', { name: '#5 2.50' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Add its direction to the library' }));
    await vi.waitFor(() => expect(added).toHaveLength(1));
    expect(added[0]).toMatchObject({ name: 'SAE feature 5', model: 'stories', entries: [{ hook: 'blocks.1.hook_resid_post', vector: [5, 0, 0, 0], norm: 5, relativeNorm: null }] });
    expect(added[0].provenance).toEqual({ kind: 'sae', folder: '/saes/res-1', feature: '5', architecture: 'jumprelu', neuronpedia: 'stories/1-res' });
  });

  it('shows why an SAE is refused', async () => {
    const api = { saeFeatures: vi.fn(async () => Promise.reject(new Error('SAE /saes/x: d_in is 768 but blocks.1.hook_resid_post of this model is 64 wide'))), saeDirection: vi.fn() };
    render(SaePanel, { props: { api, promptIds: async () => [1], onadd: () => undefined } });
    await fireEvent.input(screen.getByLabelText(/SAELens folder/), { target: { value: '/saes/x' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Features on the prompt' }));
    expect((await screen.findByRole('alert')).textContent).toContain('d_in is 768');
  });
});
