// requestPersistentStorage (src/ui/persist.ts): asks navigator.storage.persist() at most once per page, not at all
// when storage is already persistent, and answers false where the API is missing or throws.
import { beforeEach, describe, expect, it } from 'vitest';
import { requestPersistentStorage, resetPersistentStorageRequest } from '../src/ui/persist';

function fakeStorage(already: boolean, grant: boolean | Error) {
  const calls = { persist: 0, persisted: 0 };
  return {
    calls,
    persisted: async () => (calls.persisted++, already),
    persist: async () => {
      calls.persist++;
      if (grant instanceof Error) throw grant;
      return grant;
    },
  };
}

describe('persistent storage request', () => {
  beforeEach(() => resetPersistentStorageRequest());

  it('asks once per page', async () => {
    const s = fakeStorage(false, true);
    expect(await requestPersistentStorage(s)).toBe(true);
    expect(await requestPersistentStorage(s)).toBe(true);
    expect(s.calls).toEqual({ persist: 1, persisted: 1 });
  });

  it('does not ask when storage is already persistent; a refusal or an error is false', async () => {
    const kept = fakeStorage(true, false);
    expect(await requestPersistentStorage(kept)).toBe(true);
    expect(kept.calls.persist).toBe(0);
    resetPersistentStorageRequest();
    expect(await requestPersistentStorage(fakeStorage(false, false))).toBe(false);
    resetPersistentStorageRequest();
    expect(await requestPersistentStorage(fakeStorage(false, new Error('blocked')))).toBe(false);
    resetPersistentStorageRequest();
    expect(await requestPersistentStorage(undefined)).toBe(false);
  });
});
