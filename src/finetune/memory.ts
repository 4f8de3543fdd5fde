// Device memory of one fine-tuning step, from the config alone, so the trainer can pick a micro-batch that stays
// inside WebGPU's default limits (maxStorageBufferBindingSize 128 MiB, maxBufferSize 256 MiB). The largest binding
// is the selective-scan backward workspace (ops/selective_scan_backward.ts: chunk checkpoints, chunk states,
// du/ddelta, dB/dC partials, parameter partials), then the (B, K, L, di) activations and the logits.
import { BufferPool } from '../engine/buffer_pool';
import { dtRank, type MMambaConfig } from '../model/common';
import { generatorParams } from '../model/params';
import { DEFAULT_MAX_BINDING_BYTES, type LoraConfig, type MemoryPlan } from './api';
import { factorShapes, loraParamNames } from './lora';

/** Floats of the scan backward workspace; keep in sync with selective_scan_backward.ts (CHUNK 16, CH 32). */
function scanWorkspaceFloats(B: number, K: number, L: number, di: number, N: number): number {
  const nc = Math.ceil(L / 16);
  const blocks = Math.ceil(di / 32);
  const BKdi = B * K * di;
  const nUD = B * K * L * di;
  return BKdi * nc * N + BKdi * 16 * N + 2 * nUD + B * K * blocks * L * 2 * N + BKdi * (N + 2);
}

/** The buffer pool's allocation for a tensor of `bytes`. */
const cls = BufferPool.sizeClass;

/** Largest binding and a model of the pool's live bytes at the peak of a step (inside a layer's backward, at the
 *  scan backward or the conv backward), every tensor rounded to its size class as the pool allocates it.
 *  Measured (bench/finetune.ts --dry, docs/benchmarks.md): mmamba-s at batch 4 (in_proj, out_proj) 204.2 MiB peak,
 *  this model 189.1; at the page's settings (batch 8, the six default targets) mmamba-v2 194.1 (model 177.8) and the
 *  model M candidate (d 512, 6 layers) 420.4 (model 380.0); the largest binding is exact for all three. */
export function planMemory(
  config: MMambaConfig,
  lora: LoraConfig,
  batchSize: number,
  maxBindingBytes = DEFAULT_MAX_BINDING_BYTES,
): MemoryPlan {
  const c = config;
  const B = batchSize;
  const Lt = c.text.max_len;
  const HW = c.grid * c.grid;
  const L = Lt + HW;
  const di = c.expand * c.d;
  const K = c.directions;
  const N = c.d_state;
  const S = dtRank(c) + 2 * N;
  const f = 4;
  const ws = scanWorkspaceFloats(B, K, L, di, N) * f;
  const bkldi = B * K * L * di * f;
  const logits = B * HW * c.codebook_size * f;
  const ffnPre = c.ffn ? B * L * 2 * c.ffn_mult * c.d * f : 0; // the FFN's GEGLU input (B, L, 2h) and its gradient
  const largestBindingBytes = Math.max(ws, bkldi, logits, ffnPre);
  // resident: base weights (uploaded twice for the text projections: tiny), the tiled per-direction weights
  let resident = 0;
  for (const [name, s] of generatorParams(c)) {
    const n = s.reduce((a, b) => a * b, 1) * f;
    resident += cls(n) + (name.endsWith('x_proj_weight') || name.endsWith('dt_proj_weight') ? cls(n * B) : 0);
  }
  // LoRA: factors, moments, their new copies, W_eff and dW per adapted weight
  let adapted = 0;
  for (const name of loraParamNames(c, lora.targets)) {
    const fs = factorShapes(c, name, lora.rank);
    const w = fs.stack * fs.out * fs.in * f;
    adapted += 6 * (cls(fs.stack * lora.rank * fs.in * f) + cls(fs.stack * fs.out * lora.rank * f)) + 2 * cls(w);
  }
  const BLd = cls(B * L * c.d * f);
  const BLdi = cls(B * L * di * f);
  const BK = cls(bkldi);
  const whole = (c.layers + 1) * BLd + 2 * cls(logits) + 2 * cls(B * HW * c.d * f) + 3 * cls(B * Lt * c.d * f);
  // a layer's backward frees each activation after its last reader (mmamba_layer_backward.ts); at the scan backward
  // these are still live: u, dh' (d); x, ln.dx, dz (di); xs, dt (K·di); x_dbl and dBC (K·S)
  const layer = 2 * BLd + 3 * BLdi + 2 * BK + 2 * cls(B * K * L * S * f);
  const atScan = cls(ws) + 2 * BK; //   workspace + du, ddelta
  const atConv = 3 * BK; //             dxs, conv's internal gradient, dx (after du, ddelta, dxsP are freed)
  const atFfn = 3 * cls(ffnPre); //      the FFN's backward (before the mixer's): pre, its gradient, hid and d hid
  const estimatedPeakBytes = resident + adapted + whole + layer + Math.max(atScan, atConv, atFfn);
  return { largestBindingBytes, estimatedPeakBytes, fitsDefaultLimits: largestBindingBytes <= maxBindingBytes };
}

/** The largest micro-batch ≤ batchSize whose step fits `maxBindingBytes` (0 when even 1 does not). */
export function largestMicroBatch(
  config: MMambaConfig,
  lora: LoraConfig,
  batchSize: number,
  maxBindingBytes = DEFAULT_MAX_BINDING_BYTES,
): number {
  for (let m = batchSize; m >= 1; m--) if (planMemory(config, lora, m, maxBindingBytes).fitsDefaultLimits) return m;
  return 0;
}
