// Typed errors of the fine-tuning library. Each message says what went wrong and what the caller can do.
import { EngineError } from '../engine/errors';

/** An adapter file is not a valid M-Mamba LoRA file (bad magic/header, JSON, dtype, NaN values, missing tensors). */
export class AdapterFormatError extends EngineError {}

/** A well-formed adapter that belongs to another base model (model id, config hash, manifest sha, or shapes). */
export class AdapterMismatchError extends EngineError {}

/** FineTuner options or LoRA config out of range (batch < 4, rank < 1, unknown target, negative lr, …). */
export class InvalidFineTuneOptionsError extends EngineError {}

/** A batch does not match the options/config (wrong row count, token ids out of range). */
export class InvalidBatchError extends EngineError {}

/** A training step would exceed the device's buffer limits at this batch size. */
export class FineTuneMemoryError extends EngineError {}
