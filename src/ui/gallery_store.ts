// The gallery: finished images kept in IndexedDB (database `m-mamba-gallery`, one entry per image: its settings
// and PNG bytes, and its token grid so that it can be edited again: 1 KiB for 16×16), so they survive a reload. Bounded: adding one past GALLERY_LIMIT drops the oldest. The store sits
// on a three-call backend (idb-keyval in the page, a Map in tests).
import { createStore, del, entries, set } from 'idb-keyval';
import type { ImageFacts } from './image_file';
import { plural } from './plural';

/** Most images kept; the oldest go first. */
export const GALLERY_LIMIT = 60;

export interface GalleryItem {
  /** Unique, and sorts by creation time (zero-padded milliseconds + a counter). */
  id: string;
  createdAt: number;
  facts: ImageFacts;
  /** The image as a PNG (with its settings in text chunks). */
  png: Uint8Array;
  /** Its token grid (H*W), for "Edit" (absent in items kept before the grids were: those are re-encoded). */
  tokens?: Uint32Array;
}

export interface GalleryBackend {
  entries(): Promise<[string, GalleryItem][]>;
  set(id: string, item: GalleryItem): Promise<void>;
  del(id: string): Promise<void>;
}

/** The backend in the page: its own IndexedDB database, apart from the weights and adapters. */
export function indexedDbGallery(): GalleryBackend {
  const store = createStore('m-mamba-gallery', 'images');
  return {
    entries: () => entries<string, GalleryItem>(store),
    set: (id, item) => set(id, item, store),
    del: (id) => del(id, store),
  };
}

/** Ids to drop so that at most `limit` stay, oldest first (ids sort by creation). */
export function overflow(ids: readonly string[], limit = GALLERY_LIMIT): string[] {
  const sorted = [...ids].sort();
  return sorted.slice(0, Math.max(0, sorted.length - limit));
}

let counter = 0;
function newId(now: number): string {
  counter = (counter + 1) % 1000;
  return `${String(now).padStart(15, '0')}-${String(counter).padStart(3, '0')}`;
}

export class GalleryStore {
  constructor(
    private readonly backend: GalleryBackend,
    private readonly limit = GALLERY_LIMIT,
  ) {}

  /** Every kept image, newest first. */
  async list(): Promise<GalleryItem[]> {
    const all = (await this.backend.entries()).map(([, item]) => item);
    return all.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /** Keeps an image; drops the oldest ones past the limit. Returns the new item. */
  async add(facts: ImageFacts, png: Uint8Array, now = Date.now(), tokens?: Uint32Array): Promise<GalleryItem> {
    const item: GalleryItem = { id: newId(now), createdAt: now, facts: { ...facts }, png };
    if (tokens) item.tokens = tokens.slice();
    await this.backend.set(item.id, item);
    const ids = (await this.backend.entries()).map(([id]) => id);
    for (const id of overflow(ids, this.limit)) await this.backend.del(id);
    return item;
  }

  async remove(id: string): Promise<void> {
    await this.backend.del(id);
  }
}

/** What a gallery entry is called (its button's name and its thumbnail's alt text). */
export function galleryLabel(item: GalleryItem): string {
  const f = item.facts;
  const what = f.prompt === '' ? 'Unconditional image' : `“${f.prompt}”`;
  return `${what}, seed ${f.seed}, ${plural(f.steps, 'step')}${f.adapter ? `, adapter ${f.adapter}` : ''}`;
}
