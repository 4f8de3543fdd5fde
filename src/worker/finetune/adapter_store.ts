// Adapter store: named LoRA adapters kept in IndexedDB (idb-keyval), one entry per (base model, name).
//
// Keys: `adapters/v<ADAPTER_STORE_VERSION>/<baseModelId>/<name>` → StoredAdapter (the adapter as its
// `.safetensors` bytes plus a small summary for listing). The bytes are exactly what `exportAdapter` hands out
// and `importAdapter` takes in, so the store never depends on the adapter's in-memory layout.
//
// Invariants:
// - A name is 1..64 characters after trimming, no '/' and no control characters (it is part of a key and of
//   a download's file name).
// - Import adds (AdapterStore.add): a name that exists is refused, checked and written under a Web Lock shared by
//   every tab; saving a trained adapter replaces one of its name (the person typed that name).
// - Saving never touches the base weights. A full quota (QuotaExceededError) rejects with AdapterQuotaError;
//   the caller keeps the adapter in memory and says so.
// DOM-free apart from IndexedDB; runs in the engine worker and, in tests, in Node with a stub KeyValue.
import { idbKeyValue, type KeyValue } from '../weight_store';

export const ADAPTER_STORE_VERSION = 1;
const PREFIX = `adapters/v${ADAPTER_STORE_VERSION}/`;
export const MAX_ADAPTER_NAME = 64;

/** What one stored adapter holds. */
export interface StoredAdapter {
  name: string;
  baseModelId: string;
  /** The adapter in its exchange format (`.safetensors`). */
  bytes: ArrayBuffer;
  /** Milliseconds since the epoch. */
  savedAt: number;
  rank: number;
  /** Training steps it ran (0 when unknown, e.g. imported). */
  steps: number;
  /** The word that gates it (the file's `word`; '' when it names none). Absent in entries saved before the store
   *  kept it: the service then reads it from the bytes. */
  word?: string;
}

/** A listing row: everything but the bytes. */
export type AdapterSummary = Omit<StoredAdapter, 'bytes'> & { byteLength: number };

/** A bad adapter name; the message says what a good one looks like. */
export class AdapterNameError extends Error {
  constructor(why: string) {
    super(`Adapter name ${why}: use 1–${MAX_ADAPTER_NAME} characters, no "/" (e.g. "zorblat-v1").`);
    this.name = 'AdapterNameError';
  }
}

/** IndexedDB is full; the adapter was not saved (the worker keeps it in memory for this session). */
export class AdapterQuotaError extends Error {
  constructor(name: string) {
    super(
      `Browser storage is full: adapter "${name}" could not be saved. It stays usable until you close the page; ` +
        `free space by deleting adapters or cached models, then save again.`,
    );
    this.name = 'AdapterQuotaError';
  }
}

/** An adapter of that name already exists (import never replaces one silently, even from another tab). */
export class AdapterExistsError extends Error {
  constructor(name: string) {
    super(
      `An adapter named "${name}" already exists for this model: rename the file (or delete that adapter) and import again.`,
    );
    this.name = 'AdapterExistsError';
  }
}

/** Runs `fn` holding the lock `name` across every tab and worker of this origin (Web Locks), so a check-then-write
 *  of the shared IndexedDB is atomic; where Web Locks are missing (Node tests), within this realm only. */
const localLocks = new Map<string, Promise<unknown>>();
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as (Navigator & { locks?: LockManager }) | undefined)?.locks;
  if (locks?.request) return locks.request(name, fn) as Promise<T>;
  const prev = localLocks.get(name) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  localLocks.set(
    name,
    run.catch(() => undefined),
  );
  return run;
}

/** The trimmed name, or AdapterNameError. */
export function checkAdapterName(raw: string): string {
  const name = typeof raw === 'string' ? raw.trim() : '';
  if (name.length === 0) throw new AdapterNameError('is empty');
  if (Array.from(name).length > MAX_ADAPTER_NAME) throw new AdapterNameError('is too long');
  if (name.includes('/')) throw new AdapterNameError('contains "/"');
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new AdapterNameError('contains control characters');
  return name;
}

export const adapterKey = (baseModelId: string, name: string) => `${PREFIX}${baseModelId}/${name}`;

export function isQuotaError(e: unknown): boolean {
  const err = e as { name?: string; message?: string } | null;
  return !!err && (err.name === 'QuotaExceededError' || /quota/i.test(err.message ?? ''));
}

function summary(a: StoredAdapter): AdapterSummary {
  return {
    name: a.name,
    baseModelId: a.baseModelId,
    savedAt: a.savedAt,
    rank: a.rank,
    steps: a.steps,
    ...(typeof a.word === 'string' ? { word: a.word } : {}),
    byteLength: a.bytes.byteLength,
  };
}

export class AdapterStore {
  private readonly kv: KeyValue;

  constructor(kv: KeyValue = idbKeyValue()) {
    this.kv = kv;
  }

  /** Stores (or replaces) an adapter. Rejects with AdapterQuotaError when storage is full. */
  async save(a: StoredAdapter): Promise<AdapterSummary> {
    const name = checkAdapterName(a.name);
    const entry: StoredAdapter = { ...a, name };
    try {
      await this.kv.set(adapterKey(a.baseModelId, name), entry);
    } catch (e) {
      if (isQuotaError(e)) throw new AdapterQuotaError(name);
      throw e;
    }
    return summary(entry);
  }

  /** Stores a new adapter; AdapterExistsError when one of that name exists (checked and written under one
   *  cross-tab lock, so two tabs importing the same name cannot both succeed). */
  async add(a: StoredAdapter, existsElsewhere: () => boolean = () => false): Promise<AdapterSummary> {
    const name = checkAdapterName(a.name);
    return withLock(`mm-adapters/${a.baseModelId}`, async () => {
      if (existsElsewhere() || (await this.kv.get<StoredAdapter>(adapterKey(a.baseModelId, name))))
        throw new AdapterExistsError(name);
      return this.save(a);
    });
  }

  async get(baseModelId: string, name: string): Promise<StoredAdapter | null> {
    const got = await this.kv.get<StoredAdapter>(adapterKey(baseModelId, checkAdapterName(name)));
    return got && got.bytes instanceof ArrayBuffer ? got : null;
  }

  /** Adapters of one base model, newest first. */
  async list(baseModelId: string): Promise<AdapterSummary[]> {
    const prefix = `${PREFIX}${baseModelId}/`;
    const names = (await this.kv.keys()).filter((k) => k.startsWith(prefix));
    const rows: AdapterSummary[] = [];
    for (const k of names) {
      const a = await this.kv.get<StoredAdapter>(k).catch(() => undefined);
      if (a && a.bytes instanceof ArrayBuffer) rows.push(summary(a));
    }
    return rows.sort((x, y) => y.savedAt - x.savedAt || x.name.localeCompare(y.name));
  }

  async delete(baseModelId: string, name: string): Promise<void> {
    await this.kv.del(adapterKey(baseModelId, checkAdapterName(name)));
  }
}
