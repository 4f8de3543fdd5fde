// Compiles each (WGSL source, entry point, override constants) once and hands back the cached pipeline.
export type Constants = Record<string, number>;

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  get(code: string, entryPoint = 'main', constants: Constants = {}): GPUComputePipeline {
    const constKey = Object.keys(constants)
      .sort()
      .map((k) => `${k}=${constants[k]}`)
      .join(',');
    const key = `${hashString(code)}|${code.length}|${entryPoint}|${constKey}`;
    const hit = this.pipelines.get(key);
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
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }

  clear(): void {
    this.pipelines.clear();
    this.modules.clear();
  }
}

function firstLine(code: string): string {
  const line = code.split('\n').find((l) => l.trim().length > 0) ?? 'shader';
  return line.replace(/^\/\/\s*/, '').slice(0, 60);
}

/** FNV-1a over UTF-16 code units: a cache key, not a security hash. */
export function hashString(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16);
}
