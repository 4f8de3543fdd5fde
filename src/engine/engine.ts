// The engine: tensors from a buffer pool, cached pipelines, and one command encoder that collects every dispatch
// of a model step until flush() or a readback submits it. Bind groups and uniform buffers are reused across steps
// (dispatch_cache.ts), readback staging buffers are recycled. DOM-free, so it runs in a browser worker and in Node
// (Dawn).
import { BufferPool } from './buffer_pool';
import { DispatchCache } from './dispatch_cache';
import { BufferUsage, MapMode } from './gpu_constants';
import type { GpuContext } from './device';
import { GpuDeviceLostError, ShaderError, ShapeError } from './errors';
import { PipelineCache, type Constants } from './pipeline_cache';
import { BYTES_PER_ELEMENT, numel, Tensor, type DType } from './tensor';

/** A uniform block given as raw bytes (see `uniforms()` for building one from numbers). */
export interface UniformBinding {
  uniform: ArrayBuffer;
}
export type Binding = Tensor | UniformBinding;

export interface DispatchSpec {
  code: string;
  entry?: string;
  constants?: Constants;
  /** Bound to @group(0) @binding(i) in array order. */
  bindings: Binding[];
  workgroups: [number, number?, number?];
  label?: string;
}

export interface KernelTiming {
  label: string;
  ms: number;
  /** Begin of this dispatch's pass, ms after the begin of the first profiled dispatch (gaps = idle GPU time). */
  startMs: number;
}

type AnyTypedArray = Float32Array | Uint32Array | Int32Array;

/** Packs numbers into a uniform block: each entry is one 4-byte slot, typed by the given kind. */
export function uniforms(values: Array<number | [number, 'f32' | 'u32' | 'i32']>): UniformBinding {
  const n = Math.max(4, Math.ceil(values.length / 4) * 4); // 16-byte aligned
  const buf = new ArrayBuffer(n * 4);
  const view = new DataView(buf);
  values.forEach((v, i) => {
    const [x, kind] = Array.isArray(v) ? v : [v, 'u32' as const];
    if (kind === 'f32') view.setFloat32(i * 4, x, true);
    else if (kind === 'i32') view.setInt32(i * 4, x, true);
    else view.setUint32(i * 4, x >>> 0, true);
  });
  return { uniform: buf };
}

/** Splits a 1-D count of workgroups into (x, y) within the per-dimension limit; kernels rebuild the linear id
 *  as `wid.x + wid.y * nwg.x` (nwg = @builtin(num_workgroups)) and must bounds-check it. */
export function grid1d(workgroupCount: number, maxPerDim = 65535): [number, number] {
  if (workgroupCount <= maxPerDim) return [Math.max(1, workgroupCount), 1];
  const y = Math.ceil(workgroupCount / maxPerDim);
  return [Math.ceil(workgroupCount / y), y];
}

export class Engine {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  readonly dispatchCache: DispatchCache;
  /** Unmapped MAP_READ staging buffers, reused by later readbacks (at most MAX_STAGING). */
  private staging: GPUBuffer[] = [];
  private lost: GPUDeviceLostInfo | null = null;
  private profiler: { querySet: GPUQuerySet; labels: string[]; capacity: number } | null = null;
  /** Number of dispatches recorded since the engine was made (for tests and benchmarks). */
  dispatchCount = 0;
  /** Called after each recorded dispatch with its label (benchmarks: per-dispatch accounting); null normally. */
  onDispatch: ((label: string) => void) | null = null;

  /** `cache`: the dispatch cache's bounds (tests shrink them; the defaults suit a model step). */
  constructor(
    readonly ctx: GpuContext,
    cache: { maxUniforms?: number; maxBindGroups?: number } = {},
  ) {
    this.device = ctx.device;
    this.pool = new BufferPool(this.device);
    this.pipelines = new PipelineCache(this.device);
    this.dispatchCache = new DispatchCache(this.device, cache.maxUniforms, cache.maxBindGroups);
    void this.device.lost.then((info) => {
      this.lost = info;
    });
  }

  get isLost(): boolean {
    return this.lost !== null;
  }

  private assertAlive(): void {
    if (this.lost) throw new GpuDeviceLostError(this.lost.reason, this.lost.message);
  }

  // ---- tensors -------------------------------------------------------------------------------------------

  /** A pooled tensor whose contents are undefined until a kernel writes it. */
  empty(shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    this.assertAlive();
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new ShapeError(`bad shape [${shape.join(', ')}]`);
    const bytes = numel(shape) * BYTES_PER_ELEMENT[dtype];
    return new Tensor([...shape], dtype, this.pool.acquire(bytes, label), this.pool, label);
  }

  /** A tensor holding `data` (converted to the dtype's array type). */
  fromArray(shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'f32', label = ''): Tensor {
    if (data.length !== numel(shape))
      throw new ShapeError(`data has ${data.length} elements but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    const t = this.empty(shape, dtype, label);
    this.write(t, data);
    return t;
  }

  /** Overwrites a tensor's contents. Flushes pending work first, because queue writes run before unsubmitted
   * commands. */
  write(t: Tensor, data: ArrayLike<number>, elementOffset = 0): void {
    this.assertAlive();
    const arr = toTyped(data, t.dtype);
    if (elementOffset + arr.length > t.size) throw new ShapeError(`write of ${arr.length} elements overflows ${t}`);
    this.flush();
    this.device.queue.writeBuffer(t.buffer, elementOffset * 4, arr.buffer, arr.byteOffset, arr.byteLength);
  }

  /** Records a copy of all of `src` into `dst` from element `dstElementOffset` on, in order with the dispatches
   *  recorded around it (no CPU round trip). Both tensors must have 4-byte elements. */
  copy(src: Tensor, dst: Tensor, dstElementOffset = 0): void {
    this.assertAlive();
    if (src.isDisposed || dst.isDisposed) throw new ShapeError(`copy: ${src.isDisposed ? src : dst} is disposed`);
    if (dstElementOffset < 0 || dstElementOffset + src.size > dst.size)
      throw new ShapeError(`copy of ${src} overflows ${dst} at ${dstElementOffset}`);
    if (src.size === 0) return;
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src.buffer, 0, dst.buffer, dstElementOffset * 4, src.byteLength);
  }

  /** Fills a tensor with one bit pattern (used by tests to poison outputs). */
  fill(t: Tensor, value: number): void {
    const arr = toTyped(new Array(t.size).fill(value), t.dtype);
    this.write(t, arr);
  }

  /** Copies a tensor back to the CPU. Submits everything recorded so far. */
  async read<D extends DType>(t: Tensor & { dtype: D }): Promise<AnyTypedArray> {
    this.assertAlive();
    const bytes = t.byteLength;
    const staging = this.takeStaging(Math.max(4, bytes));
    this.endPass();
    this.getEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    this.flush();
    let copy: ArrayBuffer;
    try {
      await staging.mapAsync(MapMode.READ, 0, Math.max(4, bytes));
      copy = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
    } catch (err) {
      staging.destroy();
      throw err;
    }
    this.giveStaging(staging);
    this.assertAlive();
    return t.dtype === 'f32'
      ? new Float32Array(copy)
      : t.dtype === 'u32'
        ? new Uint32Array(copy)
        : new Int32Array(copy);
  }

  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new ShapeError(`readF32 on ${t}`);
    return (await this.read(t)) as Float32Array;
  }

  // ---- dispatch ------------------------------------------------------------------------------------------

  pipeline(code: string, entry = 'main', constants: Constants = {}): GPUComputePipeline {
    return this.pipelines.get(code, entry, constants);
  }

  /** Records one compute dispatch into the current encoder. */
  dispatch(spec: DispatchSpec): void {
    this.assertAlive();
    const p = this.pipelines.entry(spec.code, spec.entry ?? 'main', spec.constants ?? NO_CONSTANTS);
    const n = spec.bindings.length;
    const buffers = new Array<GPUBuffer>(n);
    const sizes = new Array<number | undefined>(n);
    for (let i = 0; i < n; i++) {
      const b = spec.bindings[i]!;
      if (b instanceof Tensor) {
        if (b.isDisposed) throw new ShapeError(`binding ${i} of ${spec.label ?? 'dispatch'} is a disposed ${b}`);
        buffers[i] = b.buffer;
        sizes[i] = Math.max(4, b.byteLength);
      } else {
        buffers[i] = this.dispatchCache.uniform(b.uniform);
      }
    }
    const bindGroup = this.dispatchCache.bindGroup(p, buffers, sizes, spec.label);
    const [x, y = 1, z = 1] = spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    let pass: GPUComputePassEncoder;
    if (this.profiler) {
      const i = this.profiler.labels.length;
      if (i * 2 + 2 > this.profiler.capacity) throw new ShapeError('profiler query set is full: raise its capacity');
      this.profiler.labels.push(spec.label ?? 'kernel');
      this.endPass();
      pass = this.getEncoder().beginComputePass({
        timestampWrites: {
          querySet: this.profiler.querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      this.pass = pass;
    } else {
      pass = this.getPass();
    }
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    this.dispatchCount++;
    this.onDispatch?.(spec.label ?? 'kernel');
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cmd = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([cmd]);
    this.dispatchCache.afterSubmit();
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  /** Runs `fn` inside validation and out-of-memory error scopes and throws the first error as a ShaderError. */
  async checked<T>(fn: () => T | Promise<T>): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = await fn();
      this.flush();
    } finally {
      const v = await this.device.popErrorScope();
      const m = await this.device.popErrorScope();
      // A GPU error outranks (replaces) whatever fn threw: it is the root cause.
      // biome-ignore lint/correctness/noUnsafeFinally: deliberate, see above
      if (v) throw new ShaderError(`GPU validation error: ${v.message}`);
      // biome-ignore lint/correctness/noUnsafeFinally: deliberate, see above
      if (m) throw new ShaderError(`GPU out of memory: ${m.message}`);
    }
    return result;
  }

  // ---- profiling (timestamp queries) ---------------------------------------------------------------------

  /** Starts recording per-dispatch GPU times (needs the timestamp-query feature). Each dispatch gets its own pass. */
  beginProfiling(maxDispatches = 1024): void {
    if (!this.ctx.hasTimestamps) throw new ShaderError('this device has no timestamp-query feature');
    this.flush();
    const capacity = maxDispatches * 2;
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: capacity }),
      labels: [],
      capacity,
    };
  }

  async endProfiling(): Promise<KernelTiming[]> {
    const p = this.profiler;
    if (!p) return [];
    this.profiler = null;
    const n = p.labels.length * 2;
    if (n === 0) {
      p.querySet.destroy();
      return [];
    }
    const resolve = this.device.createBuffer({ size: n * 8, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: n * 8, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.endPass();
    const enc = this.getEncoder();
    enc.resolveQuerySet(p.querySet, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, n * 8);
    this.flush();
    await staging.mapAsync(MapMode.READ);
    const ts = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    resolve.destroy();
    p.querySet.destroy();
    const t0 = ts[0]!;
    return p.labels.map((label, i) => ({
      label,
      ms: Number(ts[2 * i + 1]! - ts[2 * i]!) / 1e6,
      startMs: Number(ts[2 * i]! - t0) / 1e6,
    }));
  }

  // ---- lifetime -------------------------------------------------------------------------------------------

  dispose(): void {
    try {
      this.flush();
    } catch {
      /* device may be gone */
    }
    this.dispatchCache.dispose();
    for (const b of this.staging) b.destroy();
    this.staging = [];
    this.pool.dispose();
    this.pipelines.clear();
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'model-step' });
    return this.encoder;
  }

  private getPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.getEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** A MAP_READ staging buffer of at least `bytes`: a recycled one of the same size class, else a new one. */
  private takeStaging(bytes: number): GPUBuffer {
    const cls = BufferPool.sizeClass(bytes);
    const size = cls <= this.device.limits.maxBufferSize ? cls : bytes;
    const i = this.staging.findIndex((b) => b.size === size);
    if (i >= 0) return this.staging.splice(i, 1)[0]!;
    return this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'readback' });
  }

  /** Keeps an unmapped staging buffer for reuse (small ones only, the newest MAX_STAGING). */
  private giveStaging(b: GPUBuffer): void {
    if (b.size > MAX_STAGING_BYTES) {
      b.destroy();
      return;
    }
    this.staging.push(b);
    if (this.staging.length > MAX_STAGING) this.staging.shift()!.destroy();
  }
}

/** Staging buffers kept for reuse: enough for the readbacks a generation keeps in flight (its per-step previews,
 *  ~66 KiB an image), not the occasional large readback of a test or a benchmark. */
const MAX_STAGING = 4;
const MAX_STAGING_BYTES = 4 << 20;
const NO_CONSTANTS: Constants = {};

function toTyped(data: ArrayLike<number>, dtype: DType): AnyTypedArray {
  if (dtype === 'f32') return data instanceof Float32Array ? data : Float32Array.from(data);
  if (dtype === 'u32') return data instanceof Uint32Array ? data : Uint32Array.from(data);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}
