// Nearest-neighbour ×2 upsample, NCHW (F.interpolate(scale_factor=2, mode='nearest')):
//   out[b, c, y, x] = in[b, c, y / 2, x / 2]. One thread per output element.
// (The VQ decoder can skip this kernel: conv2d's UP option reads the upsampled input on the fly.)

struct Params { n: u32, H: u32, W: u32, _p: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (B, C, H, W)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (B, C, 2H, 2W)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let W2 = 2u * p.W;
  let xo = i % W2;
  let yo = (i / W2) % (2u * p.H);
  let bc = i / (W2 * 2u * p.H);
  out[i] = x[(bc * p.H + yo / 2u) * p.W + xo / 2u];
}
