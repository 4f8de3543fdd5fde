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
//
// Bounded I/O: every request has a stall timeout (no headers, or no body bytes, for `stallMs`: aborted), a response
// is read as a stream and cancelled the moment it passes its cap (a shard's manifest size, MAX_JSON_BYTES for
// index.json and manifests), so a 600 MiB answer for a 101 KB shard costs at most the shard's size; a shard that
// stalls, overruns or fails verification is fetched once more, then the load fails with a message. Shards are
// content-addressed (their key holds the sha256) and verified on every read, so they are read from IndexedDB
// whatever the manifest's origin: an index.json whose `bytes` disagree with the manifest (reported as a
// `cache-warning`) costs a manifest request per visit, never a re-download.
import { del, get, keys, set, type UseStore } from 'idb-keyval';
import { WeightIntegrityError } from '../engine/errors';
import { samplingDefaultsProblem, type SamplingDefaults } from '../model/settings';
import { formatBytes } from '../util/format';

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
  /** A generator's recommended sampling settings (src/model/settings.ts SAMPLING_SETTINGS). */
  sampling?: SamplingDefaults;
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
  | {
      kind: 'download';
      modelId: string;
      file: string;
      loadedBytes: number;
      totalBytes: number;
      percent: number;
      fromCache: boolean;
    }
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

/** The app's IndexedDB database and object store (idb-keyval's default names, so existing caches stay valid). */
export const DB_NAME = 'keyval-store';
export const STORE_NAME = 'keyval';

/**
 * An idb-keyval store that repairs its database instead of failing every call: when the database exists without
 * the object store (re-created by another script, an extension, or a half-cleared profile: "One of the specified
 * object stores was not found"), it is reopened one version up and the store created. A connection closed under it
 * (site data cleared, another tab upgrading) is reopened on the next call, once. The data lost in such a database
 * was already unreadable; what the app stores is a cache of files it can fetch again and the person's adapters.
 */
export function resilientStore(dbName = DB_NAME, storeName = STORE_NAME): UseStore {
  let dbp: Promise<IDBDatabase> | null = null;
  const open = (version?: number) =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const req = version === undefined ? indexedDB.open(dbName) : indexedDB.open(dbName, version);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(storeName)) req.result.createObjectStore(storeName);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () =>
        reject(
          new Error(
            `IndexedDB "${dbName}" is held open by another tab at an older version; close the other tabs of this app and reload.`,
          ),
        );
    });
  const connect = async (): Promise<IDBDatabase> => {
    let db = await open();
    if (!db.objectStoreNames.contains(storeName)) {
      const next = db.version + 1;
      console.warn(`[store] IndexedDB "${dbName}" had no "${storeName}" store; re-creating it (version ${next}).`);
      db.close();
      db = await open(next);
    }
    // Another tab upgrading (or repairing) the database: let it, and reconnect on the next call.
    db.onversionchange = () => {
      db.close();
      dbp = null;
    };
    db.onclose = () => {
      dbp = null;
    };
    return db;
  };
  const run = async <T>(
    txMode: IDBTransactionMode,
    callback: (store: IDBObjectStore) => T | PromiseLike<T>,
    retried: boolean,
  ): Promise<T> => {
    dbp ??= connect().catch((e) => {
      dbp = null; // a failed open is retried by the next call
      throw e;
    });
    const db = await dbp;
    let store: IDBObjectStore;
    try {
      store = db.transaction(storeName, txMode).objectStore(storeName);
    } catch (e) {
      // The connection closed, or the store vanished since it was opened: reconnect (and repair) once.
      const name = (e as { name?: string }).name;
      if (retried || (name !== 'InvalidStateError' && name !== 'NotFoundError')) throw e;
      dbp = null;
      try {
        db.close();
      } catch {
        /* already closed */
      }
      return run(txMode, callback, true);
    }
    return callback(store);
  };
  return (txMode, callback) => run(txMode, callback, false);
}

export function idbKeyValue(store: UseStore = resilientStore()): KeyValue {
  return {
    get: <T>(k: string) => get<T>(k, store),
    set: (k, v) => set(k, v, store),
    del: (k) => del(k, store),
    keys: async () => (await keys(store)).map(String),
  };
}

/** Largest index.json or manifest.json read (the shipped manifests are 13–42 KB, tokenizer included). */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** A request that delivers no headers or no body bytes for this long is aborted (then retried once for a shard). */
export const DEFAULT_STALL_MS = 30_000;

/** A request stalled or overran its cap; `retry` says whether one more attempt may help. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface WeightStoreOptions {
  /** Where `index.json` and `<id>/manifest.json` live; must be on `origin`. Default `<origin>/models/`. */
  baseUrl?: string;
  /** The only origin requests may go to. Default: the realm's own origin (`self.location.origin`). */
  origin?: string;
  kv?: KeyValue;
  fetch?: typeof fetch;
  /** Stall timeout in ms (default DEFAULT_STALL_MS; tests use less). */
  stallMs?: number;
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
export function manifestMatchesEntry(
  m: Pick<StoredManifest, 'shards'>,
  e: Pick<IndexEntry, 'bytes' | 'shardSha256'>,
): boolean {
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
  private readonly stallMs: number;

  constructor(opts: WeightStoreOptions = {}) {
    this.stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
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

  /** Fetches `path` and reads its body, at most `cap` bytes, aborting when headers or bytes stop coming for
   *  `stallMs`. `onBytes` sees the running count. Throws DownloadError (stall, overrun) or Error (network, HTTP). */
  private async fetchBytes(
    path: string,
    cap: number,
    init?: RequestInit,
    onBytes?: (n: number) => void,
  ): Promise<Uint8Array> {
    const u = this.url(path);
    const abort = new AbortController();
    const stalled = () =>
      new DownloadError(
        `Could not download ${u.pathname}: no data arrived for ${Math.round(this.stallMs / 1000)} s (the connection stalled)`,
      );
    /** `p`, or a stall once `stallMs` pass without it settling (the request is then aborted). */
    const withinStall = <T>(p: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          abort.abort();
          reject(stalled());
        }, this.stallMs);
        p.then(resolve, reject).finally(() => clearTimeout(timer));
      });
    let res: Response;
    try {
      res = await withinStall(this.fetchFn(u.href, { credentials: 'same-origin', ...init, signal: abort.signal }));
    } catch (e) {
      if (e instanceof DownloadError) throw e;
      throw new Error(
        `Could not download ${u.pathname}: ${e instanceof Error ? e.message : String(e)} (are you offline?)`,
      );
    }
    if (!res.ok) throw new Error(`Could not download ${u.pathname}: HTTP ${res.status} ${res.statusText}`.trim());
    const overrun = (n: number) =>
      new DownloadError(
        `Could not download ${u.pathname}: the server sent ${n} bytes or more, expected at most ${cap}`,
      );
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > cap) {
      abort.abort();
      throw overrun(declared);
    }
    if (!res.body) {
      const b = new Uint8Array(await withinStall(res.arrayBuffer()));
      if (b.byteLength > cap) throw overrun(b.byteLength);
      onBytes?.(b.byteLength);
      return b;
    }
    // Stream into one buffer of at most `cap` bytes; cancelled the moment the body passes it.
    let out = new Uint8Array(Math.min(cap, 1 << 16));
    let n = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await withinStall(reader.read());
        if (done) break;
        if (n + value.byteLength > cap) throw overrun(n + value.byteLength);
        if (n + value.byteLength > out.byteLength) {
          const bigger = new Uint8Array(Math.min(cap, Math.max(out.byteLength * 2, n + value.byteLength)));
          bigger.set(out.subarray(0, n));
          out = bigger;
        }
        out.set(value, n);
        n += value.byteLength;
        onBytes?.(n);
      }
    } catch (e) {
      abort.abort();
      reader.cancel().catch(() => undefined);
      if (e instanceof DownloadError) throw e;
      throw new Error(
        `Could not download ${u.pathname}: ${e instanceof Error ? e.message : String(e)} (are you offline?)`,
      );
    }
    return n === out.byteLength ? out : out.slice(0, n);
  }

  /** A JSON file of at most MAX_JSON_BYTES, parsed; a parse failure names the file. */
  private async fetchJson<T>(path: string, init?: RequestInit): Promise<T> {
    const bytes = await this.fetchBytes(path, MAX_JSON_BYTES, init);
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch (e) {
      throw new Error(`models/${path} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  /** The shipped models. Fetched fresh (a tiny file); falls back to the last copy seen when offline. */
  async index(): Promise<ModelIndex> {
    try {
      const idx = await this.fetchJson<ModelIndex>('index.json', { cache: 'no-cache' });
      if (!idx || typeof idx !== 'object' || !Array.isArray(idx.models))
        throw new Error('models/index.json has no "models" list');
      if (idx.models.length > 256)
        throw new Error(`models/index.json lists ${idx.models.length} models; at most 256 are read`);
      for (const m of idx.models) {
        if (!m || typeof m !== 'object' || !ID_RE.test(m.id))
          throw new Error(`models/index.json: bad model id ${JSON.stringify(m?.id)}`);
        if (!Number.isSafeInteger(m.bytes) || m.bytes < 0)
          throw new Error(`models/index.json: model "${m.id}" has bad bytes ${JSON.stringify(m.bytes)}`);
        if (m.sampling !== undefined) {
          if (m.kind === 'vq')
            throw new Error(`models/index.json: "${m.id}" is the tokenizer; only generators have sampling`);
          const problem = samplingDefaultsProblem(m.sampling);
          if (problem) throw new Error(`models/index.json: model "${m.id}": ${problem}`);
        }
      }
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
    if (!e)
      throw new Error(`Unknown model "${id}": models/index.json lists ${idx.models.map((m) => m.id).join(', ')}.`);
    if (e.formatVersion !== FORMAT_VERSION)
      throw new Error(
        `Model "${id}" uses weight format v${e.formatVersion}; this build reads v${FORMAT_VERSION}. Reload to update the app.`,
      );
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
    const bad = (why: string) =>
      new WeightIntegrityError(
        `The manifest of model "${id}" is invalid (${why}). Reload the page; if it persists the deployment is broken.`,
      );
    if (m.modelId !== id) throw bad(`it names model "${m.modelId}"`);
    if (m.formatVersion !== FORMAT_VERSION)
      throw bad(`format v${m.formatVersion}, this build reads v${FORMAT_VERSION}`);
    if (!Array.isArray(m.shards) || m.shards.length === 0) throw bad('no shards');
    if (m.shards.length > 1024) throw bad(`${m.shards.length} shards (at most 1024)`);
    for (const s of m.shards) {
      if (!s || typeof s !== 'object') throw bad('a shard entry is not an object');
      if (!FILE_RE.test(s.file)) throw bad(`shard file ${JSON.stringify(s.file)}`);
      if (!SHA_RE.test(s.sha256)) throw bad(`shard sha256 ${JSON.stringify(s.sha256)}`);
      if (!Number.isSafeInteger(s.bytes) || s.bytes <= 0 || s.bytes > 16 * 1024 * 1024)
        throw bad(`shard size ${s.bytes}`);
    }
    return m;
  }

  /** Reads a model from IndexedDB, or downloads, verifies and stores it. */
  async load(id: string, onProgress?: (p: WeightProgress) => void): Promise<LoadedWeights> {
    const e = await this.entry(id);
    let manifest = await this.cachedManifest(e);
    const manifestFromCache = manifest !== null;
    if (!manifest) {
      manifest = this.validateManifest(
        await this.fetchJson<StoredManifest>(`${id}/manifest.json`, { cache: 'no-cache' }),
        id,
      );
      if (!manifestMatchesEntry(manifest, e)) {
        const total = manifest.shards.reduce((n, x) => n + x.bytes, 0);
        onProgress?.({
          kind: 'cache-warning',
          modelId: id,
          message:
            `models/index.json describes model "${id}" differently from its manifest (${e.bytes} vs ${total} bytes` +
            `${e.shardSha256 ? ', or other shards' : ''}): the deployment is inconsistent. The weights are checked against the manifest and ` +
            `stay cached, but every visit asks for the manifest again until index.json is fixed.`,
        });
      }
    }
    const shardsMeta = manifest.shards;
    const totalBytes = shardsMeta.reduce((s, x) => s + x.bytes, 0);
    const shards: ArrayBuffer[] = [];
    let fromCache = true; // until a shard is downloaded
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
      // Content-addressed and verified below: a stored shard is good whichever manifest names it.
      const stored = await this.kv.get<ArrayBuffer>(key).catch(() => undefined);
      if (stored instanceof ArrayBuffer) {
        report(s.file, stored.byteLength, true);
        const why = await this.check(stored, s);
        onProgress?.({ kind: 'verify', modelId: id, file: s.file, done: i + 1, total: shardsMeta.length });
        if (why === null) bytes = stored;
        else onProgress?.({ kind: 'refetch', modelId: id, file: s.file, reason: `cached copy ${why}` });
      }
      if (bytes === null) {
        fromCache = false;
        // Network: one retry on a stall, an overrun or a mismatch, then a clear error.
        report(s.file, 0, false); // the label names this model from the first byte on, not the last one loaded
        for (let attempt = 0; attempt < 2 && bytes === null; attempt++) {
          let got: ArrayBuffer;
          try {
            got = await this.download(id, s, (n) => report(s.file, n, false), attempt > 0);
          } catch (err) {
            if (!(err instanceof DownloadError)) throw err;
            if (attempt > 0)
              throw new DownloadError(
                `${err.message}, twice; model "${id}" could not be loaded. Check the connection and try again.`,
              );
            onProgress?.({ kind: 'refetch', modelId: id, file: s.file, reason: err.message });
            continue;
          }
          const why = await this.check(got, s);
          onProgress?.({ kind: 'verify', modelId: id, file: s.file, done: i + 1, total: shardsMeta.length });
          if (why === null) bytes = got;
          else if (attempt === 0)
            onProgress?.({ kind: 'refetch', modelId: id, file: s.file, reason: `download ${why}` });
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

  /** One shard's bytes: at most its manifest size (more is an overrun, cancelled at once), stall-bounded. */
  private async download(
    id: string,
    s: ShardEntry,
    onBytes: (n: number) => void,
    bypassCache: boolean,
  ): Promise<ArrayBuffer> {
    const b = await this.fetchBytes(`${id}/${s.file}`, s.bytes, bypassCache ? { cache: 'reload' } : undefined, onBytes);
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
      ? (b.buffer as ArrayBuffer)
      : (b.slice().buffer as ArrayBuffer);
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
    const ids = all
      .filter((k) => k.startsWith(PREFIX) && k.endsWith('/manifest'))
      .map((k) => k.slice(PREFIX.length, -'/manifest'.length));
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
    if (typeof id !== 'string' || !ID_RE.test(id))
      throw new Error(`There is no model ${JSON.stringify(id)} to delete.`);
    await this.kv.del(manifestKey(id));
    const mine = (await this.kv.keys()).filter((k) => k.startsWith(`${PREFIX}${id}/`));
    for (const k of mine) await this.kv.del(k);
  }
}

/** A store in its own IndexedDB database, for tests that must not touch the app's cache. */
export function isolatedKeyValue(dbName: string): KeyValue {
  return idbKeyValue(resilientStore(dbName, STORE_NAME));
}
