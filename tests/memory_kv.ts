// An in-memory KeyValue (the weight store's IndexedDB interface) for tests that run WeightStore in Node.
import type { KeyValue } from '../src/worker/weight_store';

export function memoryKv(): KeyValue {
  const m = new Map<string, unknown>();
  return {
    get: async <T>(k: string) => m.get(k) as T | undefined,
    set: async (k, v) => void m.set(k, v),
    del: async (k) => void m.delete(k),
    keys: async () => [...m.keys()],
  };
}
