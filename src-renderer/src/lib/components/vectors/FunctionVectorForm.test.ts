import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { LibraryVector } from '../../api/types';
import { MODEL, headPatchingRecord } from '../../../test/fixtures';
import FunctionVectorForm from './FunctionVectorForm.svelte';

const answer = { entries: [{ hook: 'blocks.1.hook_resid_post', vector: [0, 0, 1, 0], norm: 1, relativeNorm: 0.25 }], heads: [{ layer: 1, head: 0, norm: 0.5 }, { layer: 2, head: 1, norm: 0.25 }], forwardPasses: 3 };

describe('function vector form', () => {
  it("takes the top heads of a patching sweep per head, and adds the engine's vector to the library", async () => {
    const api = { functionVector: vi.fn(async () => answer) };
    const added: LibraryVector[] = [];
    render(FunctionVectorForm, { props: { api, model: MODEL, onadd: (vector: LibraryVector) => added.push(vector), headSweeps: [headPatchingRecord] } });
    await fireEvent.input(screen.getByLabelText('top'), { target: { value: '2' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Use top heads' }));
    expect((screen.getByLabelText('Heads (block.head)') as HTMLInputElement).value).toBe('1.0, 2.1');
    await fireEvent.input(screen.getByLabelText('Add at block (output)'), { target: { value: '1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Make function vector' }));
    await vi.waitFor(() => expect(added).toHaveLength(1));
    expect(api.functionVector).toHaveBeenCalledWith({ prompts: expect.arrayContaining(['hot: cold, big: small, up:']), heads: [{ layer: 1, head: 0 }, { layer: 2, head: 1 }], layer: 1 });
    expect(added[0]).toMatchObject({ name: 'antonyms', entries: answer.entries, provenance: { kind: 'function', heads: '1.0, 2.1', prompts: '3', 'head norms': '0.50, 0.25' } });
  });

  it('flags heads the model does not have and blocks the request', async () => {
    const api = { functionVector: vi.fn(async () => answer) };
    render(FunctionVectorForm, { props: { api, model: MODEL, onadd: () => undefined } });
    expect(screen.queryByRole('button', { name: 'Use top heads' })).toBeNull();
    await fireEvent.input(screen.getByLabelText('Heads (block.head)'), { target: { value: `0.${MODEL.nHeads}` } });
    expect(screen.getByText(`0.${MODEL.nHeads}: head ${MODEL.nHeads} is out of range (0..${MODEL.nHeads - 1})`)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Make function vector' }) as HTMLButtonElement).disabled).toBe(true);
  });
});
