// Selective scan (Mamba S6) forward, three variants:
//  - selectiveScan      (shaders/selective_scan.wgsl): inputs already in each direction's scan order,
//                       (B, K, L, ·) → y (B, K, L, di); pair with crossScan / crossMerge (ops/cross_scan.ts): the
//                       unfused path, kept as the baseline the fused kernel is benchmarked against.
//  - selectiveScanFused (shaders/selective_scan_fused.wgsl): inputs in ORIGINAL token order (as produced by
//                       causalConv1dCrossScan and the x_proj / dt_proj matmuls), walks each scan order by index
//                       arithmetic and merges the directions in-kernel → (B, L, di). No permuted copies. The model's.
//  - selectiveScanChunked (shaders/selective_scan_chunked.wgsl, then crossMerge): the fused kernel's contract with L
//                       cut into chunks run in parallel and joined by a carry of the states: more threads at small
//                       batch. A candidate, not yet benchmarked on a GPU; the model uses selectiveScanFused.
// A fourth, one invocation per (b, k, channel, state) with a subgroup reduction over the states, lost to the
// fused kernel on the H200 (317 vs 232 µs at batch 2, 3184 vs 723 µs at batch 32; docs/benchmarks.md) and was removed.
// Semantics: training/mmamba/scan.py `selective_scan_ref` with delta_softplus=True and delta_bias = dt bias,
// A = −exp(A_log) computed in-kernel, state in f32. Per-direction parameters are stacked on K as in PyTorch.
import plainBody from '../../../shaders/selective_scan.wgsl?raw';
import fusedBody from '../../../shaders/selective_scan_fused.wgsl?raw';
import chunkedBody from '../../../shaders/selective_scan_chunked.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { crossMerge } from './cross_scan';
import { checkGrid, CROSS_SCAN_INDEX_WGSL, geomSlots, type ScanGrid } from './cross_scan_geom';
import { SOFTPLUS_WGSL } from './softplus_code';

const plainCode = `${SOFTPLUS_WGSL}\n${plainBody}`;

const fusedCode = `${SOFTPLUS_WGSL}\n${CROSS_SCAN_INDEX_WGSL}\n${fusedBody}`;
const chunkedCode = `${SOFTPLUS_WGSL}\n${CROSS_SCAN_INDEX_WGSL}\n${chunkedBody}`;
export const MAX_STATE = 16;

export interface ScanInputs {
  u: Tensor; //         (B, K, L, di)  conv+SiLU output
  delta: Tensor; //     (B, K, L, di)  dt · W_dt, before dt bias and softplus
  A_log: Tensor; //     (K, di, N)
  /** (B, K, L, S): B_t is columns [bOffset, bOffset + N) and C_t columns [cOffset, cOffset + N) of each row:
   *  x_proj's output x_dbl (S = dt_rank + 2N, offsets dt_rank and dt_rank + N) is read in place. One tensor
   *  for both keeps the kernels at 8 storage buffers, WebGPU's default maxStorageBuffersPerShaderStage. */
  BC: Tensor;
  D: Tensor; //         (K, di)
  deltaBias: Tensor; // (K, di)  dt_proj_bias
  bOffset: number;
  cOffset: number;
}

interface Dims {
  Bsz: number;
  K: number;
  L: number;
  di: number;
  N: number;
  S: number;
}

function checkInputs(what: string, x: ScanInputs): Dims {
  const all = [x.u, x.delta, x.A_log, x.BC, x.D, x.deltaBias];
  if (all.some((t) => t.dtype !== 'f32')) throw new ShapeError(`${what}: all inputs must be f32`);
  if (x.u.shape.length !== 4) throw new ShapeError(`${what}: u must be (B, K, L, di), got ${x.u}`);
  const [Bsz, K, L, di] = x.u.shape as [number, number, number, number];
  const same = (t: Tensor, s: number[]) => t.shape.length === s.length && t.shape.every((v, i) => v === s[i]);
  if (!same(x.delta, [Bsz, K, L, di])) throw new ShapeError(`${what}: delta ${x.delta} must match u ${x.u}`);
  if (x.A_log.shape.length !== 3 || x.A_log.shape[0] !== K || x.A_log.shape[1] !== di)
    throw new ShapeError(`${what}: A_log must be (K=${K}, di=${di}, N), got ${x.A_log}`);
  const N = x.A_log.shape[2]!;
  if (N < 1 || N > MAX_STATE) throw new ShapeError(`${what}: state size N=${N} must be in [1, ${MAX_STATE}]`);
  if (!same(x.D, [K, di]) || !same(x.deltaBias, [K, di]))
    throw new ShapeError(`${what}: D ${x.D} and deltaBias ${x.deltaBias} must be (K=${K}, di=${di})`);
  const t = x.BC;
  const S = t.shape[3] ?? 0;
  const ok = (off: number) => Number.isInteger(off) && off >= 0 && off + N <= S;
  if (
    t.shape.length !== 4 ||
    t.shape[0] !== Bsz ||
    t.shape[1] !== K ||
    t.shape[2] !== L ||
    !ok(x.bOffset) ||
    !ok(x.cOffset)
  )
    throw new ShapeError(
      `${what}: BC ${t} must be (B=${Bsz}, K=${K}, L=${L}, S) with B/C columns [${x.bOffset}, +${N}), [${x.cOffset}, +${N}) inside S`,
    );
  return { Bsz, K, L, di, N, S };
}

export interface ScanOptions {
  /** Channels per workgroup (plain: 16 | 32 | 64, the workgroup size; fused: 4 | 8 | 16 | 32, times K threads).
   *  Default: the smaller size (one 32-wide warp/wave per workgroup) unless the larger one still gives ≥ 256
   *  workgroups: total threads are B·K·di either way, so the choice only spreads them over more compute units. */
  channelsPerWorkgroup?: number;
}

const MIN_WORKGROUPS = 256;

/** y (B, K, L, di) = selective_scan per direction, inputs in scan order; optional gate y · SiLU(z), z (B, K, L, di). */
export function selectiveScan(e: Engine, x: ScanInputs, z?: Tensor, opts: ScanOptions = {}): Tensor {
  const d = checkInputs('selectiveScan', x);
  if (z && (z.dtype !== 'f32' || z.size !== x.u.size || z.shape.length !== 4))
    throw new ShapeError(`selectiveScan: z ${z} must match u ${x.u}`);
  const CH = opts.channelsPerWorkgroup ?? (d.Bsz * d.K * Math.ceil(d.di / 64) >= MIN_WORKGROUPS ? 64 : 32);
  if (![16, 32, 64].includes(CH)) throw new ShapeError(`selectiveScan: channelsPerWorkgroup ${CH} not in {16, 32, 64}`);
  const blocks = Math.ceil(d.di / CH);
  const y = e.empty([d.Bsz, d.K, d.L, d.di], 'f32', 'selective_scan'); // (B, K, L, di)
  e.dispatch({
    code: plainCode,
    constants: { CH, NS: d.N, HASZ: z ? 1 : 0 },
    bindings: [
      uniforms([d.Bsz, d.K, d.L, d.di, d.S, x.bOffset, x.cOffset, blocks]),
      x.u,
      x.delta,
      x.A_log,
      x.BC,
      x.D,
      x.deltaBias,
      z ?? x.u,
      y,
    ],
    workgroups: grid1d(d.Bsz * d.K * blocks),
    label: 'selective_scan',
  });
  return y;
}

/** out (B, L, di) = Σ_k P_k⁻¹(selective_scan_k), every input in ORIGINAL token order (see file header). */
export function selectiveScanFused(e: Engine, x: ScanInputs, grid: ScanGrid, opts: ScanOptions = {}): Tensor {
  const d = checkInputs('selectiveScanFused', x);
  checkGrid(grid, d.L, 'selectiveScanFused');
  if (d.K !== grid.directions)
    throw new ShapeError(`selectiveScanFused: inputs have K=${d.K}, grid has ${grid.directions}`);
  // Default 32 channels a workgroup (K·32 invocations): fastest on the H200 at both B=2 and B=32
  // (232 µs and 723 µs at di=1024, vs 367/1273 µs for the earlier 64/K rule; docs/runs/h200-scan-variants.md).
  const CB = opts.channelsPerWorkgroup ?? 32;
  if (![4, 8, 16, 32].includes(CB))
    throw new ShapeError(`selectiveScanFused: channelsPerWorkgroup ${CB} not in {4, 8, 16, 32}`);
  const blocks = Math.ceil(d.di / CB);
  const scratch = e.empty([d.Bsz, d.K, d.L, d.di], 'f32', 'scan_fused_yk'); // (B, K, L, di)
  const out = e.empty([d.Bsz, d.L, d.di], 'f32', 'selective_scan_fused'); // (B, L, di)
  e.dispatch({
    code: fusedCode,
    constants: { KD: d.K, CB, WGS: d.K * CB, NS: d.N },
    bindings: [
      uniforms([d.Bsz, d.L, d.di, d.S, x.bOffset, x.cOffset, blocks, 0, ...geomSlots(grid)]),
      x.u,
      x.delta,
      x.A_log,
      x.BC,
      x.D,
      x.deltaBias,
      scratch,
      out,
    ],
    workgroups: grid1d(d.Bsz * blocks),
    label: 'selective_scan_fused',
  });
  scratch.dispose(); // safe: the pool only hands it to work recorded later
  return out;
}

export interface ChunkedScanOptions {
  /** Chunks L is cut into (default 8). */
  chunks?: number;
  /** Channels per workgroup (default 16); channels · chunks ≤ 256 threads and channels · chunks · 16 ≤ 2048 floats
   *  of workgroup memory (8 KiB: inside WebGPU's default 16 KiB). */
  channelsPerWorkgroup?: number;
}

/** out (B, L, di): the same as selectiveScanFused, computed chunk-parallel over L (see the shader's header). */
export function selectiveScanChunked(e: Engine, x: ScanInputs, grid: ScanGrid, opts: ChunkedScanOptions = {}): Tensor {
  const what = 'selectiveScanChunked';
  const d = checkInputs(what, x);
  checkGrid(grid, d.L, what);
  if (d.K !== grid.directions) throw new ShapeError(`${what}: inputs have K=${d.K}, grid has ${grid.directions}`);
  const NC = opts.chunks ?? 8;
  const CB = opts.channelsPerWorkgroup ?? 16;
  if (!Number.isInteger(NC) || !Number.isInteger(CB) || NC < 1 || CB < 1 || NC * CB > 128)
    throw new ShapeError(`${what}: chunks ${NC} × channels ${CB} must be whole, with chunks·channels ≤ 128`);
  const blocks = Math.ceil(d.di / CB);
  const y = e.empty([d.Bsz, d.K, d.L, d.di], 'f32', 'scan_chunked_y'); // (B, K, L, di) scan order
  e.dispatch({
    code: chunkedCode,
    constants: { CB, NC, NS: d.N, WGS: CB * NC },
    bindings: [
      uniforms([d.Bsz, d.K, d.L, d.di, d.S, x.bOffset, x.cOffset, blocks, ...geomSlots(grid)]),
      x.u,
      x.delta,
      x.A_log,
      x.BC,
      x.D,
      x.deltaBias,
      y,
    ],
    workgroups: grid1d(d.Bsz * d.K * blocks),
    label: 'selective_scan_chunked',
  });
  const out = crossMerge(e, y, grid); // (B, L, di)
  y.dispose(); // safe: the pool only hands it to work recorded later
  return out;
}
