// Selective scan (Mamba S6) backward (shaders/selective_scan_backward.wgsl + selective_scan_backward_reduce.wgsl),
// for both forward variants of ops/selective_scan.ts:
//  - selectiveScanBackward      inputs in scan order, dy (B, K, L, di) → gradients in scan order
//  - selectiveScanFusedBackward inputs in ORIGINAL token order, dy (B, L, di) the gradient of the merged output
//                               (cross-merge backward = broadcast to every direction, done in-kernel) → gradients
//                               in token order, (B, K, L, ·).
// Gradients: du, d delta (w.r.t. delta BEFORE dt bias and softplus), dBC (B, K, L, S) with the dB/dC gradients in
// the B/C columns and 0 in the others (x_dbl's dt columns get their gradient from the dt_proj backward: add it),
// d A_log (K, di, N), dD, d dt_bias (K, di). No z gate (the model gates after the merge and LayerNorm).
// Semantics: training/mmamba/scan.py `selective_scan_ref`, delta_softplus=True; checked against the f64 reference
// in reference/selective_scan_backward.ts. Deterministic: fixed-order reductions, no atomics.
import mainBody from '../../../shaders/selective_scan_backward.wgsl?raw';
import reduceSrc from '../../../shaders/selective_scan_backward_reduce.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { checkGrid, CROSS_SCAN_INDEX_WGSL, geomSlots, type ScanGrid } from './cross_scan_geom';
import { MAX_STATE, type ScanInputs } from './selective_scan';
import { SOFTPLUS_WGSL } from './softplus_code';

const mainCode = `${SOFTPLUS_WGSL}\n${CROSS_SCAN_INDEX_WGSL}\n${mainBody}`;
const [prelude, ...sections] = reduceSrc.split('//#entry ');
const REDUCE: Record<string, string> = Object.fromEntries(
  sections.map((s) => [s.slice(0, s.indexOf('\n')).trim(), prelude + s.slice(s.indexOf('\n'))]),
);

/** Steps per recomputed chunk and channels per workgroup: keep in sync with the WGSL constants T and CH. */
const CHUNK = 16;
const CH = 32;

export interface ScanGrads {
  du: Tensor; //         (B, K, L, di)
  ddelta: Tensor; //     (B, K, L, di)  gradient w.r.t. delta before dt bias and softplus
  dBC: Tensor; //        (B, K, L, S)   dB / dC in their columns, 0 elsewhere
  dA_log: Tensor; //     (K, di, N)
  dD: Tensor; //         (K, di)
  dDeltaBias: Tensor; // (K, di)
}

function dims(what: string, x: ScanInputs) {
  const all = [x.u, x.delta, x.A_log, x.BC, x.D, x.deltaBias];
  if (all.some((t) => t.dtype !== 'f32')) throw new ShapeError(`${what}: all inputs must be f32`);
  if (x.u.shape.length !== 4) throw new ShapeError(`${what}: u must be (B, K, L, di), got ${x.u}`);
  const [Bsz, K, L, di] = x.u.shape as [number, number, number, number];
  const N = x.A_log.shape[2] ?? 0;
  const S = x.BC.shape[3] ?? 0;
  const ok =
    x.delta.size === x.u.size &&
    x.A_log.size === K * di * N &&
    N >= 1 &&
    N <= MAX_STATE &&
    x.D.size === K * di &&
    x.deltaBias.size === K * di &&
    x.BC.size === Bsz * K * L * S &&
    x.bOffset >= 0 &&
    x.bOffset + N <= S &&
    x.cOffset >= 0 &&
    x.cOffset + N <= S;
  if (!ok) throw new ShapeError(`${what}: inputs do not fit u ${x.u} (see ScanInputs)`);
  return { Bsz, K, L, di, N, S };
}

function run(e: Engine, x: ScanInputs, dy: Tensor, fused: boolean, geom: number[]): ScanGrads {
  const what = fused ? 'selectiveScanFusedBackward' : 'selectiveScanBackward';
  const { Bsz, K, L, di, N, S } = dims(what, x);
  const dyWant = fused ? Bsz * L * di : Bsz * K * L * di;
  if (dy.dtype !== 'f32' || dy.size !== dyWant)
    throw new ShapeError(`${what}: dy ${dy} must be f32 ${fused ? '(B, L, di)' : '(B, K, L, di)'} for u ${x.u}`);
  const nc = Math.ceil(L / CHUNK);
  const blocks = Math.ceil(di / CH);
  const BKdi = Bsz * K * di;
  const nUD = Bsz * K * L * di;
  const offChunk = BKdi * nc * N;
  const offUD = offChunk + BKdi * CHUNK * N;
  const offBC = offUD + 2 * nUD;
  const offPar = offBC + Bsz * K * blocks * L * 2 * N;
  const ws = e.empty([offPar + BKdi * (N + 2)], 'f32', 'scan_bwd_ws');
  e.dispatch({
    code: mainCode,
    constants: { CH, NS: N, FUSED: fused ? 1 : 0 },
    bindings: [
      uniforms([Bsz, K, L, di, S, x.bOffset, x.cOffset, blocks, nc, offChunk, offUD, offBC, offPar, 0, 0, 0, ...geom]),
      x.u,
      x.delta,
      x.A_log,
      x.BC,
      x.D,
      x.deltaBias,
      dy,
      ws,
    ],
    workgroups: grid1d(Bsz * K * blocks),
    label: what,
  });
  const reduce = (entry: string, n: number, off: number, outs: Tensor[]) =>
    e.dispatch({
      code: REDUCE[entry]!,
      bindings: [uniforms([n, off, Bsz, K, L, di, S, N, blocks, x.bOffset, x.cOffset, 0]), ws, ...outs],
      workgroups: grid1d(Math.ceil(n / 256)),
      label: `scan_bwd_${entry}`,
    });
  const g: ScanGrads = {
    du: e.empty([Bsz, K, L, di], 'f32', 'scan_du'),
    ddelta: e.empty([Bsz, K, L, di], 'f32', 'scan_ddelta'),
    dBC: e.empty([Bsz, K, L, S], 'f32', 'scan_dBC'),
    dA_log: e.empty([K, di, N], 'f32', 'scan_dA_log'),
    dD: e.empty([K, di], 'f32', 'scan_dD'),
    dDeltaBias: e.empty([K, di], 'f32', 'scan_dDeltaBias'),
  };
  reduce('copy', nUD, offUD, [g.du]);
  reduce('copy', nUD, offUD + nUD, [g.ddelta]);
  reduce('bc', Bsz * K * L * S, offBC, [g.dBC]);
  reduce('params', K * di * (N + 2), offPar, [g.dA_log, g.dD, g.dDeltaBias]);
  ws.dispose(); // safe: the pool only hands it to work recorded later
  return g;
}

/** Gradients of y = selectiveScan(x) (no z) given dy (B, K, L, di); everything in scan order. */
export function selectiveScanBackward(e: Engine, x: ScanInputs, dy: Tensor): ScanGrads {
  return run(e, x, dy, false, [0, 1, 1, 0]);
}

/** Gradients of out = selectiveScanFused(x, grid) given dOut (B, L, di); everything in token order. */
export function selectiveScanFusedBackward(e: Engine, x: ScanInputs, dOut: Tensor, grid: ScanGrid): ScanGrads {
  checkGrid(grid, x.u.shape[2] ?? -1, 'selectiveScanFusedBackward');
  if (x.u.shape[1] !== grid.directions)
    throw new ShapeError(`selectiveScanFusedBackward: inputs have K=${x.u.shape[1]}, grid has ${grid.directions}`);
  return run(e, x, dOut, true, geomSlots(grid));
}
