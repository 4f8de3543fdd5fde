// Compiles each (WGSL source, entry point, override constants) once and hands back the cached pipeline, with a
// numeric id (the dispatch cache's key) and its bind group layout. Looked up on every dispatch, so the lookup does
// no per-call work proportional to the source: the outer map is keyed by the source string itself (V8 keeps a
// string's hash in the string, and the kernels' sources are long-lived module constants).
export type Constants = Record<string, number>;

export interface PipelineEntry {
  pipeline: GPUComputePipeline;
  /** Unique per pipeline for the life of the cache (never reused). */
  id: number;
  /** @group(0) of the 'auto' layout, fetched once. */
  layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  /** source → (entry point + constants) → pipeline */
  private readonly bySource = new Map<string, Map<string, PipelineEntry>>();
  private count = 0;
  private nextId = 1;

  constructor(private readonly device: GPUDevice) {}

  get(code: string, entryPoint = 'main', constants: Constants = {}): GPUComputePipeline {
    return this.entry(code, entryPoint, constants).pipeline;
  }

  entry(code: string, entryPoint = 'main', constants: Constants = {}): PipelineEntry {
    let inner = this.bySource.get(code);
    if (!inner) {
      inner = new Map();
      this.bySource.set(code, inner);
    }
    const key = variantKey(entryPoint, constants);
    const hit = inner.get(key);
    if (hit) return hit;
    let module = this.modules.get(code);
    if (!module) {
      module = this.device.createShaderModule({ code, label: firstLine(code) });
      this.modules.set(code, module);
    }
    const pipeline = this.device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint, constants },
      label: `${firstLine(code)}:${entryPoint}`,
    });
    const made = { pipeline, id: this.nextId++, layout: pipeline.getBindGroupLayout(0) };
    inner.set(key, made);
    this.count++;
    return made;
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.bySource.clear();
    this.modules.clear();
    this.count = 0;
  }
}

/** Entry point and override constants, the constants in name order (so {a, b} and {b, a} are one pipeline). */
function variantKey(entryPoint: string, constants: Constants): string {
  let key = entryPoint;
  const names = Object.keys(constants);
  if (names.length > 1) names.sort();
  for (const k of names) key += `|${k}=${constants[k]}`;
  return key;
}

function firstLine(code: string): string {
  const line = code.split('\n').find((l) => l.trim().length > 0) ?? 'shader';
  return line.replace(/^\/\/\s*/, '').slice(0, 60);
}
