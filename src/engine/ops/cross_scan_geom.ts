// Shared description of the M-Mamba cross-scan geometry (docs/architecture.md "Sequence layout") for the
// kernels that walk scan orders: cross_scan, conv1d (fused gather), selective_scan_fused.
import indexCode from '../../../shaders/cross_scan_index.wgsl?raw';
import { ShapeError } from '../errors';

export interface ScanGrid {
  /** Text positions at the start of the sequence (Lt). */
  textLen: number;
  /** Image grid side G (HW = G*G), square as in the model. */
  grid: number;
  /** Number of directions K ∈ {1, 2, 4} (1: {P0}, 2: {P0, P2}, 4: {P0, P1, P2, P3}). */
  directions: 1 | 2 | 4;
  /** 'first' (default, the shipped model) or 'middle' (cfg.text_position). */
  textPosition?: 'first' | 'middle';
}

/** WGSL helpers (ScanGeom, seqToken, seqPos), to prepend to a kernel's source. */
export const CROSS_SCAN_INDEX_WGSL: string = indexCode;

export function seqLen(g: ScanGrid): number {
  return g.textLen + g.grid * g.grid;
}

export function checkGrid(g: ScanGrid, L: number, what: string): void {
  if (![1, 2, 4].includes(g.directions))
    throw new ShapeError(`${what}: directions must be 1, 2 or 4, got ${g.directions}`);
  if (!Number.isInteger(g.grid) || g.grid < 1 || !Number.isInteger(g.textLen) || g.textLen < 0)
    throw new ShapeError(`${what}: bad grid ${JSON.stringify(g)}`);
  if (seqLen(g) !== L) throw new ShapeError(`${what}: sequence length ${L} != textLen + grid² = ${seqLen(g)}`);
}

/** The four u32 slots of the WGSL `ScanGeom` struct. */
export function geomSlots(g: ScanGrid): number[] {
  return [g.textLen, g.grid, g.directions, g.textPosition === 'middle' ? 1 : 0];
}
