// A tensor is a shape, a dtype and a GPU storage buffer. Row-major, contiguous, no strides: views are made by kernels.
import type { BufferPool } from './buffer_pool';

export type DType = 'f32' | 'u32' | 'i32';
export type TypedArrayOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'u32' ? Uint32Array : Int32Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, u32: 4, i32: 4 };

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  private disposed = false;

  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly buffer: GPUBuffer,
    /** The pool that owns the buffer, or null when the tensor owns it outright. */
    private readonly pool: BufferPool | null,
    readonly label = '',
  ) {}

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Returns the buffer to the pool (or destroys it). Commands already recorded that use it stay valid:
   *  the engine only reuses a buffer for work recorded later, which runs later. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pool) this.pool.release(this.buffer);
    else this.buffer.destroy();
  }

  toString(): string {
    return `Tensor(${this.label ? `${this.label}, ` : ''}[${this.shape.join(', ')}], ${this.dtype})`;
  }
}
