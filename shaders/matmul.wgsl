// Batched matrix multiply C = op(A) · op(B) (+ bias), f32.
// Layout: for batch z, op(A) is (M, K) and op(B) is (K, N), C is (M, N) row-major at C + z·sC.
//   A stored (M, K) row-major (TRANS_A = 0) or (K, M) (TRANS_A = 1, op(A) = A^T), at A + z·sA (sA = 0 broadcasts).
//   B stored (K, N) row-major (TRANS_B = 0) or (N, K) (TRANS_B = 1: PyTorch Linear weights, x · W^T), at B + z·sB.
//   bias (N) added to every row when HAS_BIAS = 1.
// Idea: classic shared-memory tiling. A 64×64 output tile per workgroup of 256 threads, each thread owning a
// 4×4 register block; K is walked in steps of 16. Each step the workgroup stages a 64×16 slab of op(A) and a
// 16×64 slab of op(B) into workgroup memory, k-major and packed as vec4 along m / n, so the inner loop reads one
// vec4 of A and one of B per k and does 16 FMAs. Global loads are arranged so that consecutive threads read
// consecutive addresses for every transpose combination; out-of-range elements load as 0 (ragged edges), and
// the store is bounds-checked.

override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override HAS_BIAS: u32 = 0u;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
const TM: u32 = 4u; // rows per thread
const TN: u32 = 4u; // cols per thread
const NT: u32 = 256u; // threads: (BM / TM) × (BN / TN) = 16 × 16

struct Params { M: u32, N: u32, K: u32, sA: u32, sB: u32, sC: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<vec4<f32>, 256>; // [BK][BM / 4]: As[k * 16 + m / 4][m % 4] = op(A)[m0 + m, k0 + k]
var<workgroup> Bs: array<vec4<f32>, 256>; // [BK][BN / 4]: Bs[k * 16 + n / 4][n % 4] = op(B)[k0 + k, n0 + n]

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A == 1u) { return A[base + k * p.M + m]; }
  return A[base + m * p.K + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B == 1u) { return B[base + n * p.K + k]; }
  return B[base + k * p.N + n];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let z = wid.z;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let aBase = z * p.sA;
  let bBase = z * p.sB;
  let tx = lid % 16u; // column group: cols n0 + tx*4 .. +4
  let ty = lid / 16u; // row group: rows m0 + ty*4 .. +4

  var acc: array<vec4<f32>, 4>; // acc[r] = C[m0 + ty*4 + r, n0 + tx*4 .. +4]
  for (var r = 0u; r < TM; r++) { acc[r] = vec4<f32>(0.0); }

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // Stage 64×16 of op(A) and 16×64 of op(B): 1024 elements each, 4 per thread.
    for (var j = 0u; j < 4u; j++) {
      let i = lid + j * NT;
      var m: u32; var ka: u32;
      if (TRANS_A == 1u) { m = i % BM; ka = i / BM; } else { ka = i % BK; m = i / BK; } // coalesced along memory
      As[ka * 16u + m / 4u][m % 4u] = loadA(aBase, m0 + m, k0 + ka);
      var n: u32; var kb: u32;
      if (TRANS_B == 1u) { kb = i % BK; n = i / BK; } else { n = i % BN; kb = i / BN; }
      Bs[kb * 16u + n / 4u][n % 4u] = loadB(bBase, k0 + kb, n0 + n);
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = As[k * 16u + ty];
      let b = Bs[k * 16u + tx];
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }

  let nc = n0 + tx * TN;
  var bv = vec4<f32>(0.0);
  if (HAS_BIAS == 1u) {
    for (var c = 0u; c < TN; c++) { if (nc + c < p.N) { bv[c] = bias[nc + c]; } }
  }
  for (var r = 0u; r < TM; r++) {
    let m = m0 + ty * TM + r;
    if (m >= p.M) { break; }
    let row = z * p.sC + m * p.N;
    let v = acc[r] + bv;
    for (var c = 0u; c < TN; c++) { if (nc + c < p.N) { C[row + nc + c] = v[c]; } }
  }
}
