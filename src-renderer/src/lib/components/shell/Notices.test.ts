import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { Notices as NoticeList } from '../../state/notices.svelte';
import Notices from './Notices.svelte';

describe('notices', () => {
  it('show the newest three; older ones fold into a line that opens them', async () => {
    const list = new NoticeList();
    for (let i = 1; i <= 5; i++) list.error(`failure ${i}`);
    render(Notices, { props: { items: list.items, ondismiss: () => {} } });
    expect(screen.getAllByRole('alert').map((item) => item.querySelector('p')?.textContent)).toEqual(['failure 3', 'failure 4', 'failure 5']);
    await fireEvent.click(screen.getByRole('button', { name: '2 older notices' }));
    expect(screen.getAllByRole('alert')).toHaveLength(5);
  });

  it('replace a notice still shown when the same one comes again', () => {
    const list = new NoticeList();
    list.error('Settings not applied', ['Temperature: must be at least 0']);
    list.error('Other');
    list.error('Settings not applied', ['Temperature: must be at least 0']);
    expect(list.items.map((item) => item.message)).toEqual(['Other', 'Settings not applied']);
  });

  it('offer an action (Undo) that runs once and dismisses its notice', async () => {
    vi.useFakeTimers();
    try {
      const list = new NoticeList();
      const undo = vi.fn();
      list.info('Deleted variant “A”', { label: 'Undo', run: undo });
      list.info('Saved /data/x.tiller.json');
      const view = render(Notices, { props: { items: list.items, ondismiss: (id: number) => list.dismiss(id), onact: (id: number) => list.act(id) } });
      await fireEvent.click(screen.getByRole('button', { name: 'Undo' }));
      expect(undo).toHaveBeenCalledTimes(1);
      expect(list.items.map((item) => item.message)).toEqual(['Saved /data/x.tiller.json']);
      await view.rerender({ items: list.items });
      expect(screen.queryByRole('button', { name: 'Undo' })).toBeNull();
      // Information fades by itself; one with an action stays long enough to reach its button.
      list.info('Deleted variant “B”', { label: 'Undo', run: undo });
      vi.advanceTimersByTime(4000);
      expect(list.items.map((item) => item.message)).toEqual(['Deleted variant “B”']);
      vi.advanceTimersByTime(6000);
      expect(list.items).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});
