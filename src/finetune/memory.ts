// Device memory of one fine-tuning step, from the config alone, so the trainer can pick a micro-batch that stays
// inside WebGPU's default limits (maxStorageBufferBindingSize 128 MiB, maxBufferSize 256 MiB). The largest binding
// is the selective-scan backward workspace (ops/selective_scan_backward.ts: chunk checkpoints, chunk states,
// du/ddelta, dB/dC partials, parameter partials), then the (B, K, L, di) activations and the logits.
import { dtRank, type MMambaConfig } from '../model/common';
import { generatorParams } from '../model/params';
import { DEFAULT_MAX_BINDING_BYTES, type LoraConfig, type MemoryPlan } from './api';

/** Floats of the scan backward workspace; keep in sync with selective_scan_backward.ts (CHUNK 16, CH 32). */
function scanWorkspaceFloats(B: number, K: number, L: number, di: number, N: number): number {
  const nc = Math.ceil(L / 16);
  const blocks = Math.ceil(di / 32);
  const BKdi = B * K * di;
  const nUD = B * K * L * di;
  return BKdi * nc * N + BKdi * 16 * N + 2 * nUD + B * K * blocks * L * 2 * N + BKdi * (N + 2);
}

export function planMemory(config: MMambaConfig, lora: LoraConfig, batchSize: number, maxBindingBytes = DEFAULT_MAX_BINDING_BYTES): MemoryPlan {
  const c = config;
  const B = batchSize;
  const L = c.text.max_len + c.grid * c.grid;
  const HW = c.grid * c.grid;
  const di = c.expand * c.d;
  const K = c.directions;
  const S = dtRank(c) + 2 * c.d_state;
  const f = 4;
  const ws = scanWorkspaceFloats(B, K, L, di, c.d_state) * f;
  const bkldi = B * K * L * di * f;
  const logits = B * HW * c.codebook_size * f;
  const largestBindingBytes = Math.max(ws, bkldi, logits);
  let params = 0;
  for (const s of generatorParams(c).values()) params += s.reduce((a, b) => a * b, 1) * f;
  const checkpoints = (c.layers + 1) * B * L * c.d * f;
  // one layer recomputed: xs, dt, du, ddelta, dxs, x_proj dx (B,K,L,di each) + (B,L,di) tensors + x_dbl
  const layer = 6 * bkldi + 10 * B * L * di * f + 3 * B * K * L * S * f;
  const loraFloats = lora.rank * (c.d + 2 * di) * c.layers * 2 * 4; // rough: factors + Adam moments + new copies
  const estimatedPeakBytes = params + checkpoints + layer + ws + 2 * logits + loraFloats * f;
  return { largestBindingBytes, estimatedPeakBytes, fitsDefaultLimits: largestBindingBytes <= maxBindingBytes };
}

/** The largest micro-batch ≤ batchSize whose step fits `maxBindingBytes` (0 when even 1 does not). */
export function largestMicroBatch(config: MMambaConfig, lora: LoraConfig, batchSize: number, maxBindingBytes = DEFAULT_MAX_BINDING_BYTES): number {
  for (let m = batchSize; m >= 1; m--) if (planMemory(config, lora, m, maxBindingBytes).fitsDefaultLimits) return m;
  return 0;
}
