// The engine's named errors, and how they cross the worker boundary intact. A thrown error is sent as plain data
// (its registered name, message, stack and own primitive fields such as `code`, `step` or `reason`) and rebuilt on
// the other side as an instance of the same class, so callers test `e instanceof GenerationCancelledError` on
// either side of the thread, never the message text.
//
// Invariant: the registry below is keyed by string literals, not by `Class.name`, so a minified bundle (whose class
// names are mangled) still sends and rebuilds the right class. An error of a class not listed crosses as a plain
// Error that keeps its name and message. This module is also the one place callers import the error classes from.
import * as Comlink from 'comlink';
import {
  EngineError,
  GpuDeviceLostError,
  GpuLimitError,
  ShaderError,
  ShapeError,
  WebGPUUnavailableError,
  WeightIntegrityError,
} from '../engine/errors';
import {
  AdapterFormatError,
  AdapterMismatchError,
  FineTuneMemoryError,
  InvalidBatchError,
  InvalidFineTuneOptionsError,
} from '../finetune/errors';
import { GenerationCancelledError, InvalidRequestError } from '../model/errors';
import { AdapterExistsError, AdapterNameError, AdapterQuotaError } from './finetune/adapter_store';
import { ImageRejectedError } from './finetune/images';
import { InvalidGenerateRequestError } from './generation/requests';
import { DownloadError, WeightQuotaError } from './weight_store';

/** The engine worker stopped (killed for memory, crashed, hung); `message` says how. Raised on the page side only. */
export class EngineWorkerDiedError extends Error {
  constructor(readonly reason: string) {
    super(`The engine stopped unexpectedly (${reason}).`);
    this.name = 'EngineWorkerDiedError';
  }
}

export {
  EngineError,
  WebGPUUnavailableError,
  GpuDeviceLostError,
  ShaderError,
  ShapeError,
  WeightIntegrityError,
  GpuLimitError,
  GenerationCancelledError,
  InvalidRequestError,
  InvalidGenerateRequestError,
  ImageRejectedError,
  AdapterFormatError,
  AdapterMismatchError,
  InvalidFineTuneOptionsError,
  InvalidBatchError,
  FineTuneMemoryError,
  AdapterNameError,
  AdapterQuotaError,
  AdapterExistsError,
  DownloadError,
  WeightQuotaError,
};

type ErrorClass = abstract new (...args: never[]) => Error;

/** Every error class an engine call may reject with, by the name it crosses under. */
const REGISTRY: Readonly<Record<string, ErrorClass>> = {
  EngineError,
  WebGPUUnavailableError,
  GpuDeviceLostError,
  ShaderError,
  ShapeError,
  WeightIntegrityError,
  GpuLimitError,
  GenerationCancelledError,
  InvalidRequestError,
  InvalidGenerateRequestError,
  ImageRejectedError,
  AdapterFormatError,
  AdapterMismatchError,
  InvalidFineTuneOptionsError,
  InvalidBatchError,
  FineTuneMemoryError,
  AdapterNameError,
  AdapterQuotaError,
  AdapterExistsError,
  DownloadError,
  WeightQuotaError,
  EngineWorkerDiedError,
};

/** An error as plain, structured-clone-safe data. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Own fields of the error whose values are strings, numbers or booleans (e.g. `code`, `step`, `reason`). */
  fields: Record<string, string | number | boolean>;
}

/** The registered name of `e`'s class (the most derived one registered), else `e.name`. */
function registeredName(e: Error): string {
  for (const [name, cls] of Object.entries(REGISTRY)) if (Object.getPrototypeOf(e) === cls.prototype) return name;
  return e.name;
}

export function serializeError(e: Error): SerializedError {
  const fields: SerializedError['fields'] = {};
  for (const [k, v] of Object.entries(e)) {
    if (
      k !== 'name' &&
      k !== 'message' &&
      k !== 'stack' &&
      (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    )
      fields[k] = v;
  }
  return { name: registeredName(e), message: e.message, stack: e.stack, fields };
}

/** An instance of the registered class `s.name` (constructor not run: the fields are restored as sent). */
export function deserializeError(s: SerializedError): Error {
  const cls = Object.hasOwn(REGISTRY, s.name) ? REGISTRY[s.name]! : Error;
  const e = Object.create(cls.prototype) as Error;
  Object.defineProperty(e, 'message', { value: s.message, writable: true, configurable: true });
  Object.defineProperty(e, 'stack', { value: s.stack, writable: true, configurable: true });
  Object.assign(e, s.fields);
  e.name = s.name;
  return e;
}

/** Makes comlink send thrown errors with serializeError and rebuild them with deserializeError. Both realms (the
 *  page and the worker) call it before the first call crosses; calling it again is harmless. */
export function installErrorTransfer(): void {
  const base = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: base.canHandle,
    serialize: ({ value }: { value: unknown }) => [
      value instanceof Error ? { isError: true, value: serializeError(value) } : { isError: false, value },
      [],
    ],
    deserialize: (s: { isError: boolean; value: unknown }) => {
      throw s.isError ? deserializeError(s.value as SerializedError) : s.value;
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
