// Recycles storage buffers by size class, so that a model step does not allocate. Buffers are only ever reused by
// work recorded after their release, which the queue runs later. A request gets the free buffer of its class that
// was made first (not the one released last), so which buffer a tensor gets depends only on which buffers are free,
// not on the order they were released in: a model step that acquires and releases in the same order gets the same
// buffers every time, and its bind groups repeat (dispatch_cache.ts). Size classes: quarter steps between powers of
// two (2^k · {1.25, 1.5, 1.75, 2}, multiples of 256 bytes), so a buffer over 1 KiB is at most 25 % larger than asked;
// plain powers of two made it up to twice the size (a (4, 272, 512) f32 activation of 2.1 MiB took 4 MiB).
import { GpuLimitError } from './errors';
import { BufferUsage } from './gpu_constants';

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export class BufferPool {
  /** Per size class, free buffers by creation serial, highest first (the last one is handed out next). */
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly serial = new WeakMap<GPUBuffer, number>();
  private made = 0;
  private live = 0;
  private pooled = 0;
  /** Largest total of live bytes seen, for memory reports. */
  peakLiveBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  static sizeClass(bytes: number): number {
    if (bytes <= 256) return 256;
    let pow = 256;
    while (pow * 2 < bytes) pow *= 2; // pow < bytes ≤ 2·pow
    const step = Math.max(256, pow / 4);
    return Math.ceil(bytes / step) * step;
  }

  acquire(bytes: number, label = ''): GPUBuffer {
    const cls = BufferPool.sizeClass(Math.max(bytes, 4));
    const maxBuffer = this.device.limits.maxBufferSize;
    if (cls > maxBuffer && bytes <= maxBuffer) return this.create(bytes, label, bytes);
    if (bytes > maxBuffer)
      throw new GpuLimitError(`a ${bytes}-byte buffer exceeds this device's maxBufferSize (${maxBuffer})`);
    const list = this.free.get(cls);
    const buf = list?.pop();
    if (buf) {
      this.pooled -= cls;
      this.track(cls);
      return buf;
    }
    return this.create(cls, label, cls);
  }

  private create(size: number, label: string, tracked: number): GPUBuffer {
    const buf = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
    this.serial.set(buf, this.made++);
    this.track(tracked);
    return buf;
  }

  private track(bytes: number): void {
    this.live += bytes;
    if (this.live > this.peakLiveBytes) this.peakLiveBytes = this.live;
  }

  release(buf: GPUBuffer): void {
    const cls = buf.size;
    this.live -= cls;
    this.pooled += cls;
    const list = this.free.get(cls) ?? [];
    const n = this.serial.get(buf) ?? -1;
    let i = list.length; //                                 keep the list sorted by serial, descending
    while (i > 0 && (this.serial.get(list[i - 1]!) ?? -1) < n) i--;
    list.splice(i, 0, buf);
    this.free.set(cls, list);
  }

  get liveBytes(): number {
    return this.live;
  }

  get pooledBytes(): number {
    return this.pooled;
  }

  /** Destroys every free buffer (live ones stay with their tensors). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooled = 0;
  }

  dispose(): void {
    this.trim();
  }
}
