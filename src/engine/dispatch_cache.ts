// Reuses the per-dispatch GPU objects of a model step across steps, so that recording a step costs no bind-group
// creation and no uniform upload once the first step has run:
//   uniform buffers by content: a uniform block is written once, when its buffer is made, and never rewritten, so
//     every dispatch with the same parameters binds the same buffer;
//   bind groups by (pipeline, each binding's buffer and size): a step records the same dispatches on the same
//     buffers every time (the buffer pool hands out, per size class, the buffer released last, and a step acquires
//     and releases in the same order), so its bind groups repeat.
// A bind group names buffers, not their contents, so a pooled buffer that now holds another tensor's data is bound
// correctly. Both caches are LRU-bounded. An evicted uniform buffer may still be used by the commands being recorded
// or already submitted: it is destroyed only after the next submission (WebGPU keeps a destroyed buffer alive for
// the work already submitted), and nothing later can bind it (it left the cache, and bind groups are keyed by its
// id). A cached bind group whose buffer was destroyed (a trimmed pool) is never hit again: ids are never reused.
import { BufferUsage } from './gpu_constants';
import type { PipelineEntry } from './pipeline_cache';

export interface DispatchCacheStats {
  uniformHits: number;
  uniformMisses: number;
  bindGroupHits: number;
  bindGroupMisses: number;
}

export class DispatchCache {
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  /** Evicted uniform buffers, destroyed after the next submission. */
  private retired: GPUBuffer[] = [];
  readonly stats: DispatchCacheStats = { uniformHits: 0, uniformMisses: 0, bindGroupHits: 0, bindGroupMisses: 0 };

  constructor(
    private readonly device: GPUDevice,
    readonly maxUniforms = 2048,
    readonly maxBindGroups = 8192,
  ) {}

  get uniformCount(): number {
    return this.uniforms.size;
  }

  get bindGroupCount(): number {
    return this.bindGroups.size;
  }

  /** The uniform buffer holding exactly `data` (made and written on first use). */
  uniform(data: ArrayBuffer): GPUBuffer {
    const key = contentKey(data);
    const hit = this.uniforms.get(key);
    if (hit) {
      this.stats.uniformHits++;
      this.uniforms.delete(key); // most recently used last
      this.uniforms.set(key, hit);
      return hit;
    }
    this.stats.uniformMisses++;
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const usage = BufferUsage.UNIFORM | BufferUsage.COPY_DST;
    const buf = this.device.createBuffer({ size, usage, label: 'uniforms' });
    // a new buffer: the write runs before any command that binds it, and it is never written again
    this.device.queue.writeBuffer(buf, 0, data);
    this.uniforms.set(key, buf);
    if (this.uniforms.size > this.maxUniforms) {
      const [oldKey, old] = this.uniforms.entries().next().value as [string, GPUBuffer];
      this.uniforms.delete(oldKey);
      this.retired.push(old);
    }
    return buf;
  }

  /** The bind group of `p`'s @group(0) binding `buffers[i]` (the first `sizes[i]` bytes; undefined = whole buffer)
   *  at binding i. */
  bindGroup(p: PipelineEntry, buffers: GPUBuffer[], sizes: Array<number | undefined>, label?: string): GPUBindGroup {
    let key = `${p.id}`;
    for (let i = 0; i < buffers.length; i++) key += `,${this.idOf(buffers[i]!)}:${sizes[i] ?? ''}`;
    const hit = this.bindGroups.get(key);
    if (hit) {
      this.stats.bindGroupHits++;
      this.bindGroups.delete(key);
      this.bindGroups.set(key, hit);
      return hit;
    }
    this.stats.bindGroupMisses++;
    const group = this.device.createBindGroup({
      layout: p.layout,
      entries: buffers.map((buffer, i) => ({
        binding: i,
        resource: sizes[i] === undefined ? { buffer } : { buffer, size: sizes[i] },
      })),
      label,
    });
    this.bindGroups.set(key, group);
    if (this.bindGroups.size > this.maxBindGroups) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    return group;
  }

  /** Call after each queue submission: destroys the uniform buffers evicted before it. */
  afterSubmit(): void {
    if (!this.retired.length) return;
    for (const b of this.retired) b.destroy();
    this.retired = [];
  }

  /** Forgets every bind group (e.g. after buffers were destroyed) and retires every uniform buffer. */
  clear(): void {
    this.bindGroups.clear();
    for (const b of this.uniforms.values()) this.retired.push(b);
    this.uniforms.clear();
  }

  /** Destroys everything (the engine is going away; nothing more will be submitted). */
  dispose(): void {
    this.clear();
    this.afterSubmit();
  }

  private idOf(b: GPUBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(b, id);
    }
    return id;
  }
}

/** The bytes of a uniform block as a string key: two bytes per char, an odd last byte as one more char. */
function contentKey(data: ArrayBuffer): string {
  const u16 = new Uint16Array(data, 0, data.byteLength >> 1);
  let s = '';
  for (let i = 0; i < u16.length; i++) s += String.fromCharCode(u16[i]!);
  if (data.byteLength & 1) s += `|${new Uint8Array(data)[data.byteLength - 1]}`;
  return s;
}
