// CPU reference for shaders/layernorm_gate.wgsl: the unfused chain it replaces, in f64 (reference/norm.ts's
// LayerNorm, then SiLU and the product).
import { layerNormRef } from './norm';

export function layerNormSiluGateRef(
  y: Float32Array,
  z: Float32Array,
  o: { D: number; weight: Float32Array; bias: Float32Array; eps: number },
): { yn: Float32Array; sz: Float32Array; g: Float32Array } {
  const yn = layerNormRef(y, { D: o.D, weight: o.weight, bias: o.bias, eps: o.eps });
  const sz = new Float32Array(z.length);
  const g = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) {
    const s = z[i]! / (1 + Math.exp(-z[i]!));
    sz[i] = s;
    g[i] = yn[i]! * s;
  }
  return { yn, sz, g };
}
