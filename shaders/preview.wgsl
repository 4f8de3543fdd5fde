// Per-step preview on the GPU, so that a MaskGIT step needs one readback and the token grid never leaves the GPU
// (src/model/pipeline.ts). Two entry points:
//
// embed_codes: token grid → VQ decoder input, NCHW. z[b, j, p] = codes[k, j] with k = tokens[b, p] when it is a
//   codebook id (< K), else the neutral code (the sampler's [MASK] and anything out of range), as VQDecoder.embed.
//   tokens u32 (B, HW), codes f32 (K, D) (l2-normalised rows), z f32 (B, D, HW). One thread per element of z.
//
// pack_preview: decoded images + token grid → one u32 buffer to read back:
//   out[b·S² + p]        = RGBA8 of image b, pixel p, as vq.py tensor_to_images: round((clamp(x, −1, 1) + 1)·127.5)
//                          per channel (round = half to even, as WGSL's round and torch.round), alpha 255, packed
//                          little-endian (byte 0 = R), so the CPU sees the bytes of an RGBA image;
//   out[B·S² + i]        = tokens[i] for i < B·HW.
//   images f32 (B, 3, S, S). One thread per output word.

struct EmbedParams { n: u32, D: u32, HW: u32, K: u32, neutral: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> ep: EmbedParams;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> codes: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;

@compute @workgroup_size(256)
fn embed_codes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= ep.n) { return; }
  let p = i % ep.HW;
  let bj = i / ep.HW;
  let j = bj % ep.D;
  let b = bj / ep.D;
  let t = tokens[b * ep.HW + p];
  let k = select(ep.neutral, t, t < ep.K);
  z[i] = codes[k * ep.D + j];
}

struct PackParams { nPixels: u32, S2: u32, nTokens: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> pp: PackParams;
@group(0) @binding(1) var<storage, read> images: array<f32>;
@group(0) @binding(2) var<storage, read> grid: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

fn level(x: f32) -> u32 {
  return u32(round((clamp(x, -1.0, 1.0) + 1.0) * 127.5));
}

@compute @workgroup_size(256)
fn pack_preview(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < pp.nPixels) {
    let b = i / pp.S2;
    let p = i - b * pp.S2;
    let base = b * 3u * pp.S2 + p;
    out[i] = level(images[base]) | (level(images[base + pp.S2]) << 8u) | (level(images[base + 2u * pp.S2]) << 16u) | (255u << 24u);
  } else if (i < pp.nPixels + pp.nTokens) {
    out[i] = grid[i - pp.nPixels];
  }
}
