// Offline support on the main thread: registers the service worker (public/sw.js) and tracks whether the page
// is running from the cache, for the UI's "offline" note.
//
// - Registered only where service workers exist and the page is a secure context we serve ourselves
//   (https, or http on localhost / 127.0.0.1 / [::1]), after the page's `load`, so it never competes with the
//   first visit's downloads.
// - The first visit is loaded before the service worker controls it, so once one is active the page asks it
//   to seed its cache (`mm-seed`) with this page, everything the page fetched, `models/index.json` and the
//   installable app's files (INSTALL_FILES: favicon, manifest, icons, which the browser fetches on its own, and the
//   about page the intro links to); the
//   worker follows module imports from there (the engine worker's modules included). When seeding is done,
//   `<html data-offline-ready>` is set (tests wait for it).
// - Offline = `navigator.onLine` is false, or the service worker reported a failed network fetch since the
//   last `online` event.

type Listener = (offline: boolean) => void;

/** The web-app manifest, the icons it and index.html name, and the about page (public/), relative to the base URL. */
export const INSTALL_FILES = [
  'favicon.svg',
  'manifest.webmanifest',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'about.html',
];

const listeners = new Set<Listener>();
let networkFailed = false;

/** True when the browser says it is offline or a network fetch failed (the cache answered instead). */
export function isOffline(): boolean {
  return !navigator.onLine || networkFailed;
}

/** Calls `fn` with the offline state now and on every change; returns the unsubscribe function. */
export function onOfflineChange(fn: Listener): () => void {
  listeners.add(fn);
  fn(isOffline());
  return () => listeners.delete(fn);
}

function emit(): void {
  const off = isOffline();
  for (const fn of listeners) fn(off);
}

/** Reports a failed network fetch seen outside the service worker (e.g. by the engine worker). */
export function reportNetworkFailure(): void {
  networkFailed = true;
  emit();
}

function servedByUs(): boolean {
  const { protocol, hostname } = location;
  return protocol === 'https:' || (protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname));
}

async function seed(reg: ServiceWorkerRegistration): Promise<void> {
  const active = reg.active;
  if (!active) return;
  const base = import.meta.env.BASE_URL;
  const urls = [
    location.href,
    new URL(base, location.href).href,
    new URL(`${base}models/index.json`, location.href).href,
    ...INSTALL_FILES.map((f) => new URL(`${base}${f}`, location.href).href),
    ...performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((u) => u.startsWith(location.origin) && !u.endsWith('.safetensors')),
  ];
  const reply = new Promise<{ cached?: number; failed?: number; error?: string }>((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (e: MessageEvent) => resolve(e.data as { cached?: number; failed?: number; error?: string });
    active.postMessage({ type: 'mm-seed', urls }, [ch.port2]);
  });
  const r = await reply;
  if (r.error) console.warn('[offline] seeding the cache failed:', r.error);
  document.documentElement.dataset.offlineReady = 'true';
}

/** Registers public/sw.js (see the header for when) and wires the offline state. Safe to call once at startup. */
export function setUpOffline(): void {
  window.addEventListener('online', () => {
    networkFailed = false;
    emit();
  });
  window.addEventListener('offline', emit);
  if (!('serviceWorker' in navigator) || !servedByUs()) return;
  const sw = navigator.serviceWorker;
  sw.addEventListener('message', (e: MessageEvent) => {
    const data = e.data as { type?: string } | null;
    if (data?.type === 'mm-network-failed') reportNetworkFailure();
  });
  sw.startMessages();
  const register = async () => {
    try {
      const firstVisit = !sw.controller;
      await sw.register(`${import.meta.env.BASE_URL}sw.js`, { scope: import.meta.env.BASE_URL });
      const reg = await sw.ready;
      if (firstVisit) await seed(reg);
      else document.documentElement.dataset.offlineReady = 'true';
    } catch (e) {
      console.warn('[offline] service worker registration failed; the page will not work offline', e);
    }
  };
  if (document.readyState === 'complete') void register();
  else window.addEventListener('load', () => void register(), { once: true });
}
