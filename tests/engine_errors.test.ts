// The engine's named errors cross a thread boundary as their own class (src/worker/errors.ts): a comlink pair on a
// MessageChannel (as between the page and the engine worker) rejects with an instance of the class the far side
// threw, its message and fields (step, reason, code) intact; an unregistered error keeps its name and message; a
// thrown non-Error crosses as itself. No GPU.
import * as Comlink from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AdapterExistsError,
  deserializeError,
  EngineError,
  GenerationCancelledError,
  GpuDeviceLostError,
  installErrorTransfer,
  InvalidGenerateRequestError,
  serializeError,
} from '../src/worker/errors';

class CustomError extends Error {
  code = 'E_CUSTOM';
  constructor() {
    super('not registered');
    this.name = 'CustomError';
  }
}

const thrower: Record<string, () => Promise<void>> = {
  cancelled: async () => {
    throw new GenerationCancelledError(3);
  },
  lost: async () => {
    throw new GpuDeviceLostError('destroyed', 'driver reset');
  },
  badRequest: async () => {
    throw new InvalidGenerateRequestError('steps is 1000; it must be a number from 1 to 64');
  },
  exists: async () => {
    throw new AdapterExistsError('zorblat');
  },
  custom: async () => {
    throw new CustomError();
  },
  notAnError: async () => {
    throw { why: 'plain value' };
  },
};

installErrorTransfer();
const channel = new MessageChannel();
Comlink.expose(thrower, channel.port1 as unknown as Comlink.Endpoint);
const remote = Comlink.wrap<typeof thrower>(channel.port2 as unknown as Comlink.Endpoint);
afterAll(() => {
  remote[Comlink.releaseProxy]();
  channel.port1.close();
  channel.port2.close();
});

describe('errors across a comlink channel', () => {
  it('rebuild the class the far side threw, with message and fields', async () => {
    const c = await remote.cancelled().catch((e: unknown) => e);
    expect(c).toBeInstanceOf(GenerationCancelledError);
    expect(c).toBeInstanceOf(EngineError);
    expect((c as GenerationCancelledError).step).toBe(3);
    expect((c as Error).name).toBe('GenerationCancelledError');
    expect((c as Error).message).toBe('generation cancelled before step 3');

    const lost = await remote.lost().catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(GpuDeviceLostError);
    expect((lost as GpuDeviceLostError).reason).toBe('destroyed');
    expect((lost as Error).message).toMatch(/^The GPU device was lost \(destroyed: driver reset\)/);

    await expect(remote.badRequest()).rejects.toBeInstanceOf(InvalidGenerateRequestError);
    const exists = await remote.exists().catch((e: unknown) => e);
    expect(exists).toBeInstanceOf(AdapterExistsError);
    expect((exists as Error).message).toMatch(/An adapter named "zorblat" already exists/);
  });

  it('keep name, message and code of an unregistered error; a non-Error crosses as itself', async () => {
    const e = await remote.custom().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(CustomError);
    expect(e).toMatchObject({ name: 'CustomError', message: 'not registered', code: 'E_CUSTOM' });
    await expect(remote.notAnError()).rejects.toEqual({ why: 'plain value' });
  });
});

describe('serializeError / deserializeError', () => {
  it('send the registered name even when the class name is mangled (a minified bundle)', () => {
    const e = new GenerationCancelledError(7);
    Object.defineProperty(e, 'name', { value: 'r', writable: true }); // what `new.target.name` gives once minified
    const wire = serializeError(e);
    expect(wire.name).toBe('GenerationCancelledError');
    expect(wire.fields).toEqual({ step: 7 });
    const back = deserializeError(structuredClone(wire));
    expect(back).toBeInstanceOf(GenerationCancelledError);
    expect(back.name).toBe('GenerationCancelledError');
  });
});
