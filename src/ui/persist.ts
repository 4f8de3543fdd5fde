// Asks the browser to keep this site's storage (weights, adapters, gallery) out of automatic eviction, when the
// person has just stored something of value (downloaded a model, saved an adapter). Asked at most once per page;
// a refusal or a browser without the API changes nothing else.
let asked: Promise<boolean> | null = null;

/** navigator.storage.persist(), once per page: true when storage is (now) persistent. */
export function requestPersistentStorage(
  storage: Pick<StorageManager, 'persist' | 'persisted'> | undefined = globalThis.navigator?.storage,
): Promise<boolean> {
  if (!storage?.persist) return Promise.resolve(false);
  asked ??= storage
    .persisted()
    .then((already) => already || storage.persist())
    .catch(() => false);
  return asked;
}

/** Test hook: forget that the question was asked. */
export function resetPersistentStorageRequest(): void {
  asked = null;
}
