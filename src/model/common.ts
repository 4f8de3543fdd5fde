// Shared plumbing of the model classes: the config types as the Python exporter writes them into the manifest
// (training/mmamba/config.py, vq.py — the single source of shapes), GPU parameter upload with shape checks, a
// scope that frees the intermediates of a forward, and reshaped views of contiguous tensors.
import type { Engine } from '../engine/engine';
import { ShapeError, WeightIntegrityError } from '../engine/errors';
import { Tensor } from '../engine/tensor';
import { getWeight, type WeightMap } from './weights';

export interface TextConfig {
  vocab_size: number;
  max_len: number;
  width: number;
  layers: number;
  heads: number;
  ffn_mult: number;
  pad_id: number;
}

export interface MMambaConfig {
  arch: 'mmamba';
  text: TextConfig;
  codebook_size: number;
  grid: number;
  d: number;
  layers: number;
  expand: number;
  d_state: number;
  d_conv: number;
  dt_rank: number | null;
  directions: 1 | 2 | 4;
  text_position: 'first' | 'middle';
  ffn: boolean;
  ffn_mult: number;
  pos_emb: boolean;
  cond_dim: number;
}

export interface UViTConfig {
  arch: 'uvit';
  text: TextConfig;
  codebook_size: number;
  grid: number;
  d: number;
  layers: number;
  heads: number;
  ffn_mult: number;
  cond_dim: number;
}

export interface VQConfig {
  image_size: number;
  in_channels: number;
  ch: number;
  ch_mult: number[];
  enc_res_blocks: number;
  dec_res_blocks: number;
  mid_blocks: number;
  norm_groups: number;
  codebook_size: number;
  code_dim: number;
  gn_eps: number;
}

/** Throws unless every listed key of `cfg` is a finite number (a manifest from another app version). */
export function requireNumbers(cfg: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of keys)
    if (typeof cfg[k] !== 'number' || !Number.isFinite(cfg[k]))
      throw new WeightIntegrityError(
        `${what} config has no numeric '${k}'; the model files do not match this app version`,
      );
}

export const dtRank = (c: MMambaConfig): number => c.dt_rank ?? Math.ceil(c.d / 16);

/** Parameters uploaded once from a WeightMap; `get` checks the shape the config implies. */
export class GpuParams {
  private readonly tensors = new Map<string, Tensor>();
  constructor(
    private readonly e: Engine,
    private readonly w: WeightMap,
  ) {}

  has(name: string): boolean {
    return this.w.has(name);
  }

  get(name: string, shape?: readonly number[]): Tensor {
    let t = this.tensors.get(name);
    if (!t) {
      const h = getWeight(this.w, name, shape);
      t = this.e.fromArray(h.shape, h.data, 'f32', name);
      this.tensors.set(name, t);
    } else if (shape && t.shape.join() !== shape.join()) {
      throw new WeightIntegrityError(`weight ${name} has shape [${t.shape}], the config implies [${shape}]`);
    }
    return t;
  }

  /** Uploads a derived tensor (e.g. a split or tiled weight) under a new key, once. */
  derived(key: string, make: () => { shape: number[]; data: Float32Array }): Tensor {
    let t = this.tensors.get(key);
    if (!t) {
      const { shape, data } = make();
      t = this.e.fromArray(shape, data, 'f32', key);
      this.tensors.set(key, t);
    }
    return t;
  }

  host(name: string, shape?: readonly number[]): Float32Array {
    return getWeight(this.w, name, shape).data;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/** Collects the intermediates of a forward so that one call frees them (outputs are handed back first). */
export class Scope {
  private ts: Tensor[] = [];
  t<T extends Tensor>(x: T): T {
    this.ts.push(x);
    return x;
  }
  /** Disposes every tracked tensor except `keep`. */
  dispose(keep: Tensor[] = []): void {
    const k = new Set(keep);
    for (const t of this.ts) if (!k.has(t)) t.dispose();
    this.ts = [];
  }
}

/** A pooled result re-labelled with another shape of the same size; it takes over t (t must not be used afterwards). */
export function reshapeOwned(e: Engine, t: Tensor, shape: number[]): Tensor {
  if (shape.reduce((a, b) => a * b, 1) !== t.size) throw new ShapeError(`reshape of ${t} to [${shape}]`);
  return new Tensor(shape, t.dtype, t.buffer, e.pool, t.label);
}

/** A reshaped alias of a contiguous tensor (same buffer). Never dispose the view: dispose the owner. */
export function view(t: Tensor, shape: number[]): Tensor {
  if (shape.reduce((a, b) => a * b, 1) !== t.size)
    throw new ShapeError(`view: [${shape}] does not have ${t.size} elements (${t})`);
  return new Tensor(shape, t.dtype, t.buffer, null, t.label);
}
