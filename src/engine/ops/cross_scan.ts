// Cross-scan gather and cross-merge (shaders/cross_scan.wgsl), the unfused M-Mamba path:
//   crossScan  x (B, L, C) → (B, K, L, C): direction k's sequence [x_txt ; P_k(x_img)]
//   crossMerge y (B, K, L, C) → (B, L, C): y_txt = Σ_k y_k[txt], y_img = Σ_k P_k⁻¹(y_k[img])
// L = Lt + G², channels-last. Permutations are exactly training/mmamba/mmamba.py `sequence_permutations`.
import body from '../../../shaders/cross_scan.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { checkGrid, CROSS_SCAN_INDEX_WGSL, geomSlots, type ScanGrid } from './cross_scan_geom';

const code = `${CROSS_SCAN_INDEX_WGSL}\n${body}`;

export function crossScan(e: Engine, x: Tensor, grid: ScanGrid): Tensor {
  if (x.dtype !== 'f32' || x.shape.length !== 3) throw new ShapeError(`crossScan needs f32 (B, L, C), got ${x}`);
  const [B, L, C] = x.shape as [number, number, number];
  checkGrid(grid, L, 'crossScan');
  const K = grid.directions;
  const out = e.empty([B, K, L, C], 'f32', 'cross_scan'); // (B, K, L, C)
  const n = out.size;
  e.dispatch({
    code,
    entry: 'scan',
    bindings: [uniforms([n, C, L, 0, ...geomSlots(grid)]), x, out],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'cross_scan',
  });
  return out;
}

export function crossMerge(e: Engine, y: Tensor, grid: ScanGrid): Tensor {
  if (y.dtype !== 'f32' || y.shape.length !== 4) throw new ShapeError(`crossMerge needs f32 (B, K, L, C), got ${y}`);
  const [B, K, L, C] = y.shape as [number, number, number, number];
  checkGrid(grid, L, 'crossMerge');
  if (K !== grid.directions)
    throw new ShapeError(`crossMerge: ${y} has K=${K} but grid has ${grid.directions} directions`);
  const out = e.empty([B, L, C], 'f32', 'cross_merge'); // (B, L, C)
  const n = out.size;
  e.dispatch({
    code,
    entry: 'merge',
    bindings: [uniforms([n, C, L, 0, ...geomSlots(grid)]), y, out],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'cross_merge',
  });
  return out;
}
