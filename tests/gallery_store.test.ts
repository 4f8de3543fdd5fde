// The gallery store (src/ui/gallery_store.ts) on a Map backend: newest first, bounded (the oldest dropped),
// deletable, settings and PNG bytes kept as given; what an entry is called.
import { describe, expect, it } from 'vitest';
import {
  GALLERY_LIMIT,
  galleryLabel,
  GalleryStore,
  overflow,
  type GalleryBackend,
  type GalleryItem,
} from '../src/ui/gallery_store';
import type { ImageFacts } from '../src/ui/image_file';

function mapBackend(): GalleryBackend & { map: Map<string, GalleryItem> } {
  const map = new Map<string, GalleryItem>();
  return {
    map,
    entries: async () => [...map.entries()],
    set: async (id, item) => void map.set(id, item),
    del: async (id) => void map.delete(id),
  };
}

const facts = (i: number): ImageFacts => ({
  prompt: `p${i}`,
  negativePrompt: i % 2 ? 'dark' : undefined,
  seed: i,
  steps: 12,
  guidance: 3,
  modelId: 'mmamba-s',
  adapter: i === 3 ? 'zorblat' : undefined,
});

describe('gallery store', () => {
  it('overflow drops the oldest ids past the limit', () => {
    expect(overflow(['003', '001', '002'], 2)).toEqual(['001']);
    expect(overflow(['1', '2'], 5)).toEqual([]);
    expect(GALLERY_LIMIT).toBe(60);
  });

  it('keeps settings and bytes, lists newest first, is bounded and deletable', async () => {
    const backend = mapBackend();
    const store = new GalleryStore(backend, 4);
    const added: GalleryItem[] = [];
    // Same millisecond twice: ids still unique and ordered.
    for (let i = 0; i < 6; i++)
      added.push(await store.add(facts(i), new Uint8Array([i, 1, 2]), 1_000 + Math.floor(i / 2)));
    expect(new Set(added.map((a) => a.id)).size).toBe(6);
    const list = await store.list();
    expect(list.map((x) => x.facts.prompt)).toEqual(['p5', 'p4', 'p3', 'p2']);
    expect(list[2]!.facts).toEqual(facts(3));
    expect([...list[0]!.png]).toEqual([5, 1, 2]);
    expect(backend.map.size).toBe(4);

    await store.remove(list[1]!.id);
    expect((await store.list()).map((x) => x.facts.prompt)).toEqual(['p5', 'p3', 'p2']);
  });
  it('keeps a copy of the token grid for editing (absent when not given)', async () => {
    const store = new GalleryStore(mapBackend(), 4);
    const grid = Uint32Array.from({ length: 256 }, (_, i) => (i * 7) % 1024);
    const a = await store.add(facts(1), new Uint8Array([1]), 5, grid);
    grid[0] = 999; // the caller's array changing later does not change the kept grid
    await store.add(facts(2), new Uint8Array([2]), 6);
    const [newest, older] = await store.list();
    expect(older!.id).toBe(a.id);
    expect(older!.tokens?.length).toBe(256);
    expect(older!.tokens![0]).toBe(0);
    expect(older!.tokens![3]).toBe(21);
    expect(newest!.tokens).toBeUndefined();
  });
  it('names an entry after its prompt, seed, steps and adapter', () => {
    const item = (f: ImageFacts): GalleryItem => ({ id: '1', createdAt: 0, facts: f, png: new Uint8Array() });
    expect(galleryLabel(item(facts(3)))).toBe('“p3”, seed 3, 12 steps, adapter zorblat');
    expect(galleryLabel(item({ ...facts(2), prompt: '', steps: 1 }))).toBe('Unconditional image, seed 2, 1 step');
  });
});
