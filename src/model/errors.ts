// Typed errors of the model layer (the engine's are in src/engine/errors.ts).
import { EngineError } from '../engine/errors';

/** generate() was cancelled through its AbortSignal; nothing is wrong, the partial result is discarded. */
export class GenerationCancelledError extends EngineError {
  constructor(readonly step: number) {
    super(`generation cancelled before step ${step}`);
  }
}

/** A request parameter is outside its allowed range; the message says which and what is allowed. */
export class InvalidRequestError extends EngineError {}
