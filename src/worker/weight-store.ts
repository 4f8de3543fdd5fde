// Weight store: downloads shipped models (public/models/<id>/manifest.json + .safetensors shards) from the
// page's own origin, verifies each shard's byte size and sha256 (crypto.subtle), and keeps them in IndexedDB
// (idb-keyval) under versioned keys so that later loads make no weight requests while the format version stands.
//
// DOM-free apart from fetch, crypto.subtle and IndexedDB: it runs in the engine worker (and in a page for tests).
//
// Keys (FORMAT_VERSION is the manifest `formatVersion` this build reads):
//   weights/v<FORMAT_VERSION>/<modelId>/manifest          the manifest JSON (as parsed)
//   weights/v<FORMAT_VERSION>/<modelId>/<sha256>          one shard's bytes (ArrayBuffer)
//   weights/v<FORMAT_VERSION>/index                       the last index.json seen (offline start)
// A cached model is used when its manifest's formatVersion and total bytes equal the index entry's and its
// shard sha256 list equals the entry's `shardSha256` (training/mmamba/model_index.py writes it; an index without it
// falls back to the byte total), so a re-export of the same size is fetched again; the shards' sha256 are
// re-checked on every read, so a corrupt or tampered entry is fetched again once, and a
// second mismatch fails with WeightIntegrityError. A full quota (QuotaExceededError) leaves the weights in
// memory only: the load succeeds and reports a `cache-warning`.
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import { WeightIntegrityError } from '../engine/errors';

/** The manifest `formatVersion` this build understands; part of every key. */
export const FORMAT_VERSION = 1;

/** One entry of `models/index.json`. */
export interface IndexEntry {
  id: string;
  kind: 'mmamba' | 'uvit' | 'vq';
  name: string;
  description?: string;
  formatVersion: number;
  bytes: number;
  /** sha256 of each shard in manifest order; a cached manifest listing other shards is stale. */
  shardSha256?: string[];
}

export interface ModelIndex {
  models: IndexEntry[];
  defaultGenerator: string;
  /** Id of the VQ tokenizer every generator decodes with. */
  tokenizer: string;
}

export interface ShardEntry {
  file: string;
  bytes: number;
  sha256: string;
}

/** The parts of a manifest the store reads; the rest (config, tokenizer, tensors) passes through untouched. */
export interface StoredManifest {
  format: string;
  formatVersion: number;
  modelId: string;
  kind: 'mmamba' | 'uvit' | 'vq';
  shards: ShardEntry[];
  totalBytes?: number;
  [key: string]: unknown;
}

/** Progress of one model load, in order. Bytes count over all shards of the model. */
export type WeightProgress =
  | { kind: 'download'; modelId: string; file: string; loadedBytes: number; totalBytes: number; percent: number; fromCache: boolean }
  | { kind: 'verify'; modelId: string; file: string; done: number; total: number }
  | { kind: 'refetch'; modelId: string; file: string; reason: string }
  | { kind: 'cache-warning'; modelId: string; message: string };

export interface LoadedWeights {
  manifest: StoredManifest;
  /** Shard bytes in manifest order, each verified against its size and sha256. */
  shards: ArrayBuffer[];
  /** True when every shard came from IndexedDB (no weight request was made). */
  fromCache: boolean;
  /** False when the shards could not be stored (quota): the app runs from memory this session. */
  persisted: boolean;
}

export interface CachedModel {
  id: string;
  bytes: number;
  shards: number;
}

export interface StorageReport {
  models: CachedModel[];
  /** navigator.storage.estimate(), when the browser offers it. */
  usage: number | null;
  quota: number | null;
}

/** The key-value surface the store needs (idb-keyval's, so tests can substitute a stub). */
export interface KeyValue {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

export function idbKeyValue(store?: UseStore): KeyValue {
  return {
    get: <T>(k: string) => get<T>(k, store),
    set: (k, v) => set(k, v, store),
    del: (k) => del(k, store),
    keys: async () => (await keys(store)).map(String),
  };
}

export interface WeightStoreOptions {
  /** Where `index.json` and `<id>/manifest.json` live; must be on `origin`. Default `<origin>/models/`. */
  baseUrl?: string;
  /** The only origin requests may go to. Default: the realm's own origin (`self.location.origin`). */
  origin?: string;
  kv?: KeyValue;
  fetch?: typeof fetch;
}

const PREFIX = `weights/v${FORMAT_VERSION}/`;
export const manifestKey = (id: string) => `${PREFIX}${id}/manifest`;
export const shardKey = (id: string, sha256: string) => `${PREFIX}${id}/${sha256}`;
const INDEX_KEY = `${PREFIX}index`;
const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
const FILE_RE = /^[a-z0-9][a-z0-9._-]{0,127}\.safetensors$/i;
const SHA_RE = /^[0-9a-f]{64}$/;

/** True when a manifest is the one an index entry describes: same byte total and, when the entry lists them, the
 *  same shard sha256s in the same order. */
export function manifestMatchesEntry(m: Pick<StoredManifest, 'shards'>, e: Pick<IndexEntry, 'bytes' | 'shardSha256'>): boolean {
  if (m.shards.reduce((s, x) => s + x.bytes, 0) !== e.bytes) return false;
  if (!e.shardSha256) return true;
  return e.shardSha256.length === m.shards.length && m.shards.every((s, i) => s.sha256 === e.shardSha256![i]);
}

/** The shard storage could not take the weights; the model still runs from memory this session. */
export class WeightQuotaError extends Error {
  constructor(modelId: string, bytes: number) {
    super(
      `Browser storage is full: the ${formatBytes(bytes)} of model "${modelId}" could not be cached, so it will be ` +
        `downloaded again next time. Free space by deleting cached models (model panel) or site data, then reload.`,
    );
    this.name = 'WeightQuotaError';
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let s = '';
  for (const b of digest) s += b.toString(16).padStart(2, '0');
  return s;
}

function isQuotaError(e: unknown): boolean {
  if (!(e instanceof Error) && !(typeof DOMException !== 'undefined' && e instanceof DOMException)) return false;
  const err = e as { name?: string; message?: string };
  return err.name === 'QuotaExceededError' || /quota/i.test(err.message ?? '');
}

export class WeightStore {
  readonly baseUrl: URL;
  readonly origin: string;
  private readonly kv: KeyValue;
  private readonly fetchFn: typeof fetch;

  constructor(opts: WeightStoreOptions = {}) {
    this.origin = opts.origin ?? self.location.origin;
    this.baseUrl = new URL(opts.baseUrl ?? '/models/', this.origin);
    if (!this.baseUrl.pathname.endsWith('/')) this.baseUrl.pathname += '/';
    this.kv = opts.kv ?? idbKeyValue();
    this.fetchFn = opts.fetch ?? fetch.bind(globalThis);
  }

  /** Resolves a path under the models folder; refuses anything that would leave this origin. */
  private url(path: string): URL {
    const u = new URL(path, this.baseUrl);
    if (u.origin !== this.origin) throw new Error(`Refusing to fetch weights from another origin: ${u.href}`);
    return u;
  }

  private async fetchOk(path: string, init?: RequestInit): Promise<Response> {
    const u = this.url(path);
    let res: Response;
    try {
      res = await this.fetchFn(u.href, { credentials: 'same-origin', ...init });
    } catch (e) {
      throw new Error(`Could not download ${u.pathname}: ${e instanceof Error ? e.message : String(e)} (are you offline?)`);
    }
    if (!res.ok) throw new Error(`Could not download ${u.pathname}: HTTP ${res.status} ${res.statusText}`.trim());
    return res;
  }

  /** The shipped models. Fetched fresh (a tiny file); falls back to the last copy seen when offline. */
  async index(): Promise<ModelIndex> {
    try {
      const res = await this.fetchOk('index.json', { cache: 'no-cache' });
      const idx = (await res.json()) as ModelIndex;
      if (!Array.isArray(idx.models)) throw new Error('models/index.json has no "models" list');
      for (const m of idx.models) if (!ID_RE.test(m.id)) throw new Error(`models/index.json: bad model id ${JSON.stringify(m.id)}`);
      await this.kv.set(INDEX_KEY, idx).catch(() => undefined);
      return idx;
    } catch (e) {
      const cached = await this.kv.get<ModelIndex>(INDEX_KEY).catch(() => undefined);
      if (cached) return cached;
      throw e;
    }
  }

  private async entry(id: string): Promise<IndexEntry> {
    const idx = await this.index();
    const e = idx.models.find((m) => m.id === id);
    if (!e) throw new Error(`Unknown model "${id}": models/index.json lists ${idx.models.map((m) => m.id).join(', ')}.`);
    if (e.formatVersion !== FORMAT_VERSION)
      throw new Error(`Model "${id}" uses weight format v${e.formatVersion}; this build reads v${FORMAT_VERSION}. Reload to update the app.`);
    return e;
  }

  /** The cached manifest when it still matches the index entry (same format version, size and shard sha256s), else
   *  null: the model is then fetched again. */
  private async cachedManifest(e: IndexEntry): Promise<StoredManifest | null> {
    const m = await this.kv.get<StoredManifest>(manifestKey(e.id)).catch(() => undefined);
    if (!m || m.formatVersion !== FORMAT_VERSION || m.modelId !== e.id) return null;
    return manifestMatchesEntry(m, e) ? m : null;
  }

  private validateManifest(m: StoredManifest, id: string): StoredManifest {
    const bad = (why: string) => new WeightIntegrityError(`The manifest of model "${id}" is invalid (${why}). Reload the page; if it persists the deployment is broken.`);
    if (m.modelId !== id) throw bad(`it names model "${m.modelId}"`);
    if (m.formatVersion !== FORMAT_VERSION) throw bad(`format v${m.formatVersion}, this build reads v${FORMAT_VERSION}`);
    if (!Array.isArray(m.shards) || m.shards.length === 0) throw bad('no shards');
    for (const s of m.shards) {
      if (!FILE_RE.test(s.file)) throw bad(`shard file ${JSON.stringify(s.file)}`);
      if (!SHA_RE.test(s.sha256)) throw bad(`shard sha256 ${JSON.stringify(s.sha256)}`);
      if (!Number.isSafeInteger(s.bytes) || s.bytes <= 0 || s.bytes > 16 * 1024 * 1024) throw bad(`shard size ${s.bytes}`);
    }
    return m;
  }

  /** Reads a model from IndexedDB, or downloads, verifies and stores it. */
  async load(id: string, onProgress?: (p: WeightProgress) => void): Promise<LoadedWeights> {
    const e = await this.entry(id);
    let manifest = await this.cachedManifest(e);
    const manifestFromCache = manifest !== null;
    if (!manifest) {
      const res = await this.fetchOk(`${id}/manifest.json`, { cache: 'no-cache' });
      manifest = this.validateManifest((await res.json()) as StoredManifest, id);
    }
    const shardsMeta = manifest.shards;
    const totalBytes = shardsMeta.reduce((s, x) => s + x.bytes, 0);
    const shards: ArrayBuffer[] = [];
    let fromCache = manifestFromCache;
    let persisted = true;
    let loaded = 0;
    const report = (file: string, extra: number, cached: boolean) =>
      onProgress?.({
        kind: 'download',
        modelId: id,
        file,
        loadedBytes: loaded + extra,
        totalBytes,
        percent: totalBytes ? Math.min(100, ((loaded + extra) / totalBytes) * 100) : 100,
        fromCache: cached,
      });

    for (let i = 0; i < shardsMeta.length; i++) {
      const s = shardsMeta[i]!;
      const key = shardKey(id, s.sha256);
      let bytes: ArrayBuffer | null = null;
      const stored = manifestFromCache ? await this.kv.get<ArrayBuffer>(key).catch(() => undefined) : undefined;
      if (stored instanceof ArrayBuffer) {
        report(s.file, stored.byteLength, true);
        const why = await this.check(stored, s);
        onProgress?.({ kind: 'verify', modelId: id, file: s.file, done: i + 1, total: shardsMeta.length });
        if (why === null) bytes = stored;
        else onProgress?.({ kind: 'refetch', modelId: id, file: s.file, reason: `cached copy ${why}` });
      }
      if (bytes === null) {
        fromCache = false;
        // Network: one retry on a mismatch, then a clear integrity error.
        for (let attempt = 0; attempt < 2 && bytes === null; attempt++) {
          const got = await this.download(id, s, (n) => report(s.file, n, false), attempt > 0);
          const why = await this.check(got, s);
          onProgress?.({ kind: 'verify', modelId: id, file: s.file, done: i + 1, total: shardsMeta.length });
          if (why === null) bytes = got;
          else if (attempt === 0) onProgress?.({ kind: 'refetch', modelId: id, file: s.file, reason: `download ${why}` });
          else
            throw new WeightIntegrityError(
              `Shard ${s.file} of model "${id}" failed verification twice (${why}). The server or a proxy is ` +
                `serving a damaged file; reload later, or clear this site's data if it persists.`,
            );
        }
        if (persisted) {
          try {
            await this.kv.set(key, bytes);
          } catch (err) {
            if (!isQuotaError(err)) throw err;
            persisted = false;
          }
        }
      }
      loaded += s.bytes;
      report(s.file, 0, bytes !== null && fromCache);
      shards.push(bytes!);
    }

    if (persisted && !manifestFromCache) {
      try {
        // The manifest goes last: its presence means every shard key it lists was written.
        await this.kv.set(manifestKey(id), manifest);
      } catch (err) {
        if (!isQuotaError(err)) throw err;
        persisted = false;
      }
    }
    if (!persisted) {
      await this.deleteModel(id).catch(() => undefined);
      onProgress?.({ kind: 'cache-warning', modelId: id, message: new WeightQuotaError(id, totalBytes).message });
    } else if (!manifestFromCache || !fromCache) {
      await this.dropStaleShards(id, manifest);
    }
    return { manifest, shards, fromCache, persisted };
  }

  /** null when `bytes` matches the shard entry, else what is wrong with it. */
  private async check(bytes: ArrayBuffer, s: ShardEntry): Promise<string | null> {
    if (bytes.byteLength !== s.bytes) return `has ${bytes.byteLength} bytes, expected ${s.bytes}`;
    const h = await sha256Hex(bytes);
    return h === s.sha256 ? null : `has sha256 ${h.slice(0, 12)}…, expected ${s.sha256.slice(0, 12)}…`;
  }

  private async download(id: string, s: ShardEntry, onBytes: (n: number) => void, bypassCache: boolean): Promise<ArrayBuffer> {
    const res = await this.fetchOk(`${id}/${s.file}`, bypassCache ? { cache: 'reload' } : undefined);
    if (!res.body) {
      const b = await res.arrayBuffer();
      onBytes(b.byteLength);
      return b;
    }
    // Stream into one buffer of the expected size (growing only if the server sends more).
    let out = new Uint8Array(s.bytes);
    let n = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.byteLength > out.byteLength) {
        const bigger = new Uint8Array(Math.max(out.byteLength * 2, n + value.byteLength));
        bigger.set(out.subarray(0, n));
        out = bigger;
      }
      out.set(value, n);
      n += value.byteLength;
      onBytes(n);
    }
    return n === out.byteLength ? out.buffer : out.slice(0, n).buffer;
  }

  /** Removes shard keys of this model that its current manifest no longer lists (an older export). */
  private async dropStaleShards(id: string, m: StoredManifest): Promise<void> {
    const keep = new Set(m.shards.map((s) => shardKey(id, s.sha256)));
    keep.add(manifestKey(id));
    const mine = (await this.kv.keys()).filter((k) => k.startsWith(`${PREFIX}${id}/`) && !keep.has(k));
    for (const k of mine) await this.kv.del(k);
  }

  /** True when the model's manifest and every shard it lists are stored. */
  async isCached(id: string): Promise<boolean> {
    const m = await this.kv.get<StoredManifest>(manifestKey(id)).catch(() => undefined);
    if (!m) return false;
    const all = new Set(await this.kv.keys());
    return m.shards.every((s) => all.has(shardKey(id, s.sha256)));
  }

  async cachedModels(): Promise<CachedModel[]> {
    const all = await this.kv.keys();
    const ids = all.filter((k) => k.startsWith(PREFIX) && k.endsWith('/manifest')).map((k) => k.slice(PREFIX.length, -'/manifest'.length));
    const out: CachedModel[] = [];
    for (const id of ids.sort()) {
      const m = await this.kv.get<StoredManifest>(manifestKey(id));
      if (!m) continue;
      const present = m.shards.filter((s) => all.includes(shardKey(id, s.sha256)));
      out.push({ id, bytes: present.reduce((s, x) => s + x.bytes, 0), shards: present.length });
    }
    return out;
  }

  async storageReport(): Promise<StorageReport> {
    const models = await this.cachedModels();
    let usage: number | null = null;
    let quota: number | null = null;
    const storage = (globalThis.navigator as Navigator | undefined)?.storage;
    if (storage?.estimate) {
      const est = await storage.estimate().catch(() => ({}) as StorageEstimate);
      usage = est.usage ?? null;
      quota = est.quota ?? null;
    }
    return { models, usage, quota };
  }

  /** Deletes every stored key of a model (manifest first, so a half-deleted model never looks cached). */
  async deleteModel(id: string): Promise<void> {
    await this.kv.del(manifestKey(id));
    const mine = (await this.kv.keys()).filter((k) => k.startsWith(`${PREFIX}${id}/`));
    for (const k of mine) await this.kv.del(k);
  }
}

/** A store in its own IndexedDB database, for tests that must not touch the app's cache. */
export function isolatedKeyValue(dbName: string): KeyValue {
  return idbKeyValue(createStore(dbName, 'keyval'));
}
