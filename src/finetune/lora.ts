// LoRA adapters for M-Mamba on the CPU (Hu et al. 2021): which weights a config adapts, their factor shapes, a seeded
// init (A ~ U(−1/√in, 1/√in) from the shared counter RNG of docs/architecture.md, B = 0, so a fresh adapter is the
// identity), the config hash that ties an adapter to its base model, and mergeAdapter: W + (alpha/rank)·B·A,
// per direction for K-stacked weights. Merged weights go through the unchanged generator: zero cost at sampling time.
import { rngKey, uniformFromKey } from '../engine/rng';
import { mmambaParams, textParams } from '../model/params';
import {
  LORA_TARGETS,
  type BaseModelRef,
  type LoraAdapter,
  type LoraConfig,
  type LoraPair,
  type LoraTarget,
  type MMambaConfig,
  type WeightMap,
} from './api';
import { InvalidFineTuneOptionsError } from './errors';

/** Per-layer parameter of each layer target. */
const LAYER_PARAM: Partial<Record<LoraTarget, string>> = {
  in_proj: 'in_proj.weight',
  out_proj: 'out_proj.weight',
  x_proj: 'x_proj_weight',
  dt_proj: 'dt_proj_weight',
  mod: 'mod.proj.weight',
};

/** The weights of each text block that the 'text_layers' target adapts. */
const TEXT_BLOCK_PARAMS = ['attn.qkv.weight', 'attn.out.weight', 'mlp.0.weight', 'mlp.2.weight'];

/** Base parameter names adapted by `targets`, in a fixed order: layers ascending (targets in LORA_TARGETS order),
 *  then head, then the text encoder's output projections, then its blocks ascending. */
export function loraParamNames(config: MMambaConfig, targets: readonly LoraTarget[]): string[] {
  const want = new Set(targets);
  for (const t of want)
    if (!LORA_TARGETS.includes(t))
      throw new InvalidFineTuneOptionsError(`unknown LoRA target '${t}' (use ${LORA_TARGETS.join(', ')})`);
  const names: string[] = [];
  for (let i = 0; i < config.layers; i++)
    for (const t of LORA_TARGETS) if (want.has(t) && LAYER_PARAM[t]) names.push(`layers.${i}.${LAYER_PARAM[t]}`);
  if (want.has('head')) names.push('head.weight');
  if (want.has('text')) names.push('text.proj.weight', 'text.pool_proj.weight');
  if (want.has('text_layers'))
    for (let j = 0; j < config.text.layers; j++) for (const n of TEXT_BLOCK_PARAMS) names.push(`text.layers.${j}.${n}`);
  return names;
}

/** Shape of a base weight from the config alone (params.ts tables). */
export function baseShape(config: MMambaConfig, name: string): number[] {
  const s = mmambaParams(config).get(name) ?? textParams(config.text, config.d, config.cond_dim).get(name);
  if (!s) throw new InvalidFineTuneOptionsError(`M-Mamba has no parameter ${name}`);
  return s;
}

export interface FactorShapes {
  /** 1 for a plain (out, in) weight, K for a K-stacked (K, out, in) one. */
  stack: number;
  out: number;
  in: number;
  A: number[];
  B: number[];
}

export function factorShapes(config: MMambaConfig, name: string, rank: number): FactorShapes {
  const s = baseShape(config, name);
  const [stack, out, inp] = s.length === 3 ? (s as [number, number, number]) : [1, s[0]!, s[1]!];
  const A = s.length === 3 ? [stack, rank, inp] : [rank, inp];
  const B = s.length === 3 ? [stack, out, rank] : [out, rank];
  return { stack, out, in: inp, A, B };
}

/** Throws InvalidFineTuneOptionsError unless the LoRA config is usable on this model. */
export function checkLoraConfig(config: MMambaConfig, lora: LoraConfig): void {
  if (!Number.isInteger(lora.rank) || lora.rank < 1)
    throw new InvalidFineTuneOptionsError(`LoRA rank must be an integer ≥ 1, got ${lora.rank}`);
  if (!Number.isFinite(lora.alpha) || lora.alpha <= 0)
    throw new InvalidFineTuneOptionsError(`LoRA alpha must be a positive number, got ${lora.alpha}`);
  if (!Array.isArray(lora.targets) || lora.targets.length === 0)
    throw new InvalidFineTuneOptionsError('LoRA targets must name at least one weight');
  for (const name of loraParamNames(config, lora.targets)) {
    const f = factorShapes(config, name, lora.rank);
    if (lora.rank > Math.min(f.in, f.out))
      throw new InvalidFineTuneOptionsError(
        `LoRA rank ${lora.rank} exceeds min(in, out) = ${Math.min(f.in, f.out)} of ${name}; lower the rank`,
      );
  }
}

export const loraScale = (lora: LoraConfig): number => lora.alpha / lora.rank;

/** RNG stream of parameter #index's A init (distinct from the sampler's small streams). */
const INIT_STREAM = 0x4c6f5241; // 'LoRA'

export function initAdapter(base: BaseModelRef, lora: LoraConfig, seed: number): LoraAdapter {
  checkLoraConfig(base.config, lora);
  const pairs = new Map<string, LoraPair>();
  loraParamNames(base.config, lora.targets).forEach((name, p) => {
    const f = factorShapes(base.config, name, lora.rank);
    const key = rngKey(seed, INIT_STREAM + p);
    const bound = 1 / Math.sqrt(f.in);
    const a = new Float32Array(f.stack * lora.rank * f.in);
    for (let i = 0; i < a.length; i++) a[i] = (2 * uniformFromKey(key, i) - 1) * bound;
    pairs.set(name, {
      A: { shape: f.A, data: a },
      B: { shape: f.B, data: new Float32Array(f.stack * f.out * lora.rank) },
    });
  });
  return {
    config: { rank: lora.rank, alpha: lora.alpha, targets: [...lora.targets] },
    info: {
      baseModelId: base.modelId,
      baseConfigHash: configHash(base.config),
      baseManifestSha256: base.manifestSha256,
      steps: 0,
    },
    pairs,
  };
}

/** W + scale·B·A for one weight (f64 accumulation, rounded once), W (stack, out, in) flat. */
export function mergedWeight(W: Float32Array, pair: LoraPair, scale: number): Float32Array {
  const [stack, out, r] =
    pair.B.shape.length === 3 ? (pair.B.shape as [number, number, number]) : [1, pair.B.shape[0]!, pair.B.shape[1]!];
  const inp = pair.A.shape[pair.A.shape.length - 1]!;
  if (W.length !== stack * out * inp)
    throw new InvalidFineTuneOptionsError(`LoRA factors do not fit a weight of ${W.length} elements`);
  const res = new Float32Array(W.length);
  const A = pair.A.data;
  const B = pair.B.data;
  for (let k = 0; k < stack; k++)
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inp; i++) {
        let s = 0;
        for (let j = 0; j < r; j++) s += B[(k * out + o) * r + j]! * A[(k * r + j) * inp + i]!;
        const at = (k * out + o) * inp + i;
        res[at] = W[at]! + scale * s;
      }
  return res;
}

/** A new WeightMap with every adapted weight merged at `strength` (W + strength·(alpha/rank)·B·A; 1: as trained, 0:
 *  the base values); the other entries are shared with `base` (not copied). */
export function mergeAdapter(base: WeightMap, adapter: LoraAdapter, strength = 1): WeightMap {
  if (!Number.isFinite(strength))
    throw new InvalidFineTuneOptionsError(`adapter strength must be a finite number, got ${strength}`);
  const out: WeightMap = new Map(base);
  const scale = loraScale(adapter.config) * strength;
  for (const [name, pair] of adapter.pairs) {
    const w = base.get(name);
    if (!w) throw new InvalidFineTuneOptionsError(`the base weights have no ${name}, which the adapter adapts`);
    out.set(name, { shape: w.shape, data: mergedWeight(w.data, pair, scale) });
  }
  return out;
}

/** Canonical JSON: object keys sorted at every level. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** FNV-1a 64 of the canonical JSON of the config, as 16 hex digits. An identity check, not a security measure. */
export function configHash(config: MMambaConfig): string {
  const bytes = new TextEncoder().encode(canonical(config));
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * prime) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}
