// Batched matrix multiply C = op(A) · op(B) (+ bias), f32.
// Layout: for batch z, op(A) is (M, K) and op(B) is (K, N), C is (M, N) row-major at C + z·sC.
//   A stored (M, K) row-major (TRANS_A = 0) or (K, M) (TRANS_A = 1, op(A) = A^T), at A + z·sA (sA = 0 broadcasts).
//   B stored (K, N) row-major (TRANS_B = 0) or (N, K) (TRANS_B = 1: PyTorch Linear weights, x · W^T), at B + z·sB.
//   bias (N) added to every row when HAS_BIAS = 1.
//   A's rows may be wider than K (lda ≥ K, TRANS_A = 0): a column slice A[:, :K] is read in place (M-Mamba's
//   dt_proj reads the dt columns of x_dbl without a copy); with TRANS_A = 1, lda is the stored row width (≥ M).
//   aOff starts every batch's A later: a row range A[z, r0 : r0 + M] read in place (M-Mamba's head reads the image
//   rows of h without a copy).
// Epilogues (EPILOGUE, applied to v = acc + bias before the store), each replacing one elementwise dispatch:
//   0  C = v
//   1  gated residual: C[r, n] = R[r, n] + G[(r / rowsPerGate)·gateW + gateOff + n] · v, r = z·M + m the global
//      row (the adaLN-Zero `h + gate · f(...)` of the out-projections; R has C's layout, G is (B, gateW))
//   2  GEGLU pairs: op(B)'s columns hold the two halves interleaved (2f = GELU input, 2f + 1 = its multiplier,
//      the weight rows permuted once on upload); C (M, N/2)[m, f] = gelu_tanh(v[2f]) · v[2f + 1]. A pair never
//      straddles threads: a thread's columns come in aligned groups of 4.
// Idea: shared-memory tiling with register blocking. A BM×BN output tile per workgroup of 256 threads laid out
// 16×16; each thread owns TM×TN outputs (BM = 16·TM, BN = 16·TN; TM, TN ∈ {4, 8} are substituted by the TS
// wrapper so the loops unroll). K is walked in steps of BK = 16: the workgroup stages a BM×16 slab of op(A) and
// a 16×BN slab of op(B) in workgroup memory, k-major and packed as vec4 along m / n; per k each thread reads
// TM/4 + TN/4 vec4s and does TM·TN FMAs. A thread's rows and columns are interleaved in vec4 groups
// (group g of the thread is vec4 index t + 16·g), so the shared reads of a warp hit consecutive addresses
// (no bank conflicts) and the stores of a row are contiguous. Staging writes whole vec4 slots; global loads are
// arranged so that consecutive threads read consecutive addresses for every transpose combination;
// out-of-range elements load as 0 (ragged edges) and the stores are bounds-checked.

override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override HAS_BIAS: u32 = 0u;
override EPILOGUE: u32 = 0u;

const TM4: u32 = /*TM4*/1u; // TM / 4: vec4 row groups per thread
const TN4: u32 = /*TN4*/1u; // TN / 4: vec4 column groups per thread
const BM: u32 = 64u * TM4;
const BN: u32 = 64u * TN4;
const BM4: u32 = 16u * TM4;
const BN4: u32 = 16u * TN4;
const BK: u32 = 16u;
const NT: u32 = 256u;

// aOff: A's first element in every batch (a row range of A read in place); lda: A's stored row width; ldc: C's row width (N, or N/2 for EPILOGUE 2); rowsPerGate, gateW, gateOff: EPILOGUE 1
struct Params {
  M: u32, N: u32, K: u32, sA: u32, sB: u32, sC: u32, lda: u32, ldc: u32,
  rowsPerGate: u32, gateW: u32, gateOff: u32, aOff: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
@group(0) @binding(5) var<storage, read> R: array<f32>; // EPILOGUE 1: the residual (C's layout); else unused
@group(0) @binding(6) var<storage, read> G: array<f32>; // EPILOGUE 1: the packed gates (B, gateW); else unused

var<workgroup> As: array<vec4<f32>, BK * BM4>; // As[k·BM4 + m/4][m%4] = op(A)[m0 + m, k0 + k]
var<workgroup> Bs: array<vec4<f32>, BK * BN4>; // Bs[k·BN4 + n/4][n%4] = op(B)[k0 + k, n0 + n]

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A == 1u) { return A[base + k * p.lda + m]; }
  return A[base + m * p.lda + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B == 1u) { return B[base + n * p.K + k]; }
  return B[base + k * p.N + n];
}

fn gelu_tanh(v: f32) -> f32 { // as shaders/geglu.wgsl
  let inner = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return v / (1.0 + exp(-2.0 * clamp(inner, -40.0, 40.0)));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let z = wid.z;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let aBase = z * p.sA + p.aOff;
  let bBase = z * p.sB;
  let tx = lid % 16u; // column groups tx + 16·j (vec4 index within the tile)
  let ty = lid / 16u; // row groups ty + 16·i

  var acc: array<vec4<f32>, TM4 * 4u * TN4>; // acc[r·TN4 + j]: row (ty + 16·(r/4))·4 + r%4, cols of group j
  for (var i = 0u; i < TM4 * 4u * TN4; i++) { acc[i] = vec4<f32>(0.0); }

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // Each thread fills whole vec4 slots (4 scalar loads, one vec4 store: no partial writes of a shared vec4,
    // which some backends lower to a racy read-modify-write). Slot order follows memory order per transpose case,
    // so every one of the 4 load instructions is coalesced across the threads.
    for (var j = 0u; j < BK * BM4 / NT; j++) {
      let s = lid + j * NT;
      var k: u32; var m4: u32;
      if (TRANS_A == 1u) { m4 = s % BM4; k = s / BM4; } else { k = s % BK; m4 = s / BK; }
      let m = m0 + m4 * 4u;
      As[k * BM4 + m4] = vec4<f32>(loadA(aBase, m, k0 + k), loadA(aBase, m + 1u, k0 + k),
                                   loadA(aBase, m + 2u, k0 + k), loadA(aBase, m + 3u, k0 + k));
    }
    for (var j = 0u; j < BK * BN4 / NT; j++) {
      let s = lid + j * NT;
      var k: u32; var n4: u32;
      if (TRANS_B == 1u) { k = s % BK; n4 = s / BK; } else { n4 = s % BN4; k = s / BN4; }
      let n = n0 + n4 * 4u;
      Bs[k * BN4 + n4] = vec4<f32>(loadB(bBase, k0 + k, n), loadB(bBase, k0 + k, n + 1u),
                                   loadB(bBase, k0 + k, n + 2u), loadB(bBase, k0 + k, n + 3u));
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var a: array<vec4<f32>, TM4>;
      var b: array<vec4<f32>, TN4>;
      for (var i = 0u; i < TM4; i++) { a[i] = As[k * BM4 + ty + 16u * i]; }
      for (var j = 0u; j < TN4; j++) { b[j] = Bs[k * BN4 + tx + 16u * j]; }
      for (var i = 0u; i < TM4; i++) {
        for (var c = 0u; c < 4u; c++) {
          let av = vec4<f32>(a[i][c]);
          for (var j = 0u; j < TN4; j++) { acc[(i * 4u + c) * TN4 + j] = fma(av, b[j], acc[(i * 4u + c) * TN4 + j]); }
        }
      }
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < TN4; j++) {
    let nc = n0 + (tx + 16u * j) * 4u;
    var bv = vec4<f32>(0.0);
    if (HAS_BIAS == 1u) {
      for (var c = 0u; c < 4u; c++) { if (nc + c < p.N) { bv[c] = bias[nc + c]; } }
    }
    for (var i = 0u; i < TM4; i++) {
      for (var r = 0u; r < 4u; r++) {
        let m = m0 + (ty + 16u * i) * 4u + r;
        if (m < p.M) {
          let row = z * p.sC + m * p.ldc;
          let v = acc[(i * 4u + r) * TN4 + j] + bv;
          if (EPILOGUE == 2u) {
            // nc is a multiple of 4: pairs (nc, nc + 1) and (nc + 2, nc + 3) → outputs nc/2 and nc/2 + 1
            if (nc + 1u < p.N) { C[row + nc / 2u] = gelu_tanh(v[0]) * v[1]; }
            if (nc + 3u < p.N) { C[row + nc / 2u + 1u] = gelu_tanh(v[2]) * v[3]; }
          } else if (EPILOGUE == 1u) {
            let gBase = ((z * p.M + m) / p.rowsPerGate) * p.gateW + p.gateOff;
            for (var c = 0u; c < 4u; c++) {
              if (nc + c < p.N) { C[row + nc + c] = R[row + nc + c] + G[gBase + nc + c] * v[c]; }
            }
          } else {
            for (var c = 0u; c < 4u; c++) { if (nc + c < p.N) { C[row + nc + c] = v[c]; } }
          }
        }
      }
    }
  }
}
