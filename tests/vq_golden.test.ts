// Golden check of the VQ tokenizer's conv stack on the GPU against PyTorch (tests/fixtures/vq_tiny):
// the decoder (decode.input → decode.pixels) and the encoder (encode.image → encode.latent), built from
// conv2d (3×3, 1×1, stride 2, fused ×2 upsample), groupNorm (+SiLU) and the elementwise residual add,
// following training/mmamba/vq.py (ResBlock: GN → SiLU → conv → GN → SiLU → conv, + skip).
import { resolve } from 'node:path';
import { describe, it } from 'vitest';
import type { Engine } from '../src/engine/engine';
import { conv2d } from '../src/engine/ops/conv2d';
import { add } from '../src/engine/ops/elementwise';
import { groupNorm } from '../src/engine/ops/groupnorm';
import type { Tensor } from '../src/engine/tensor';
import { expectClose, getEngine } from './gpu';
import { f32, readSafetensors } from './golden_io';

// README's forward tolerance (f32 stages); ~20 convs and norms deep.
const TOL = 1e-4;
const DIR = resolve(__dirname, 'fixtures/vq_tiny');

describe('VQ tokenizer vs PyTorch (vq_tiny golden fixture)', async () => {
  const cfg = (await import('./fixtures/vq_tiny/fixture.json')).default.config as {
    norm_groups: number;
    gn_eps: number;
    ch_mult: number[];
  };
  const arrays = readSafetensors(`${DIR}/arrays.safetensors`);
  const weights = readSafetensors(`${DIR}/model-00000.safetensors`);

  function net(e: Engine) {
    const cache = new Map<string, Tensor>();
    const W = (name: string): Tensor => {
      let t = cache.get(name);
      if (!t) {
        const a = weights.get(name);
        if (!a) throw new Error(`no weight ${name}`);
        t = e.fromArray(a.shape, a.data as Float32Array);
        cache.set(name, t);
      }
      return t;
    };
    const has = (name: string) => weights.has(name);
    const gn = (x: Tensor, p: string) =>
      groupNorm(e, x, Math.min(cfg.norm_groups, x.shape[1]!), W(`${p}.weight`), W(`${p}.bias`), {
        eps: cfg.gn_eps,
        silu: true,
      });
    const conv = (x: Tensor, p: string, stride: 1 | 2 = 1, upsample = false) => {
      const w = W(`${p}.weight`);
      return conv2d(e, x, w, W(`${p}.bias`), { stride, padding: (w.shape[2]! - 1) / 2, upsample });
    };
    const resblock = (x: Tensor, p: string): Tensor => {
      const h = conv(gn(conv(gn(x, `${p}.norm1`), `${p}.conv1`), `${p}.norm2`), `${p}.conv2`);
      const skip = has(`${p}.skip.weight`) ? conv(x, `${p}.skip`) : x;
      return add(e, skip, h);
    };
    const levels = cfg.ch_mult.length;
    const decoder = (z: Tensor): Tensor => {
      let h = conv(z, 'decoder.conv_in');
      for (let m = 0; has(`decoder.mid.${m}.conv1.weight`); m++) h = resblock(h, `decoder.mid.${m}`);
      for (let l = 0; l < levels; l++) {
        for (let j = 0; has(`decoder.levels.${l}.blocks.${j}.conv1.weight`); j++)
          h = resblock(h, `decoder.levels.${l}.blocks.${j}`);
        if (has(`decoder.levels.${l}.up.weight`)) h = conv(h, `decoder.levels.${l}.up`, 1, true); // nearest ×2, conv
      }
      return conv(gn(h, 'decoder.norm_out'), 'decoder.conv_out');
    };
    const encoder = (x: Tensor): Tensor => {
      let h = conv(x, 'encoder.conv_in');
      for (let l = 0; l < levels; l++) {
        for (let j = 0; has(`encoder.levels.${l}.blocks.${j}.conv1.weight`); j++)
          h = resblock(h, `encoder.levels.${l}.blocks.${j}`);
        if (has(`encoder.levels.${l}.down.weight`)) h = conv(h, `encoder.levels.${l}.down`, 2);
      }
      for (let m = 0; has(`encoder.mid.${m}.conv1.weight`); m++) h = resblock(h, `encoder.mid.${m}`);
      return conv(gn(h, 'encoder.norm_out'), 'encoder.conv_out');
    };
    return { decoder, encoder };
  }

  it('decoder: decode.input → decode.pixels', async () => {
    const e = await getEngine();
    const z = arrays.get('decode.input')!;
    const out = net(e).decoder(e.fromArray(z.shape, z.data as Float32Array));
    expectClose(await e.readF32(out), f32(arrays, 'decode.pixels'), TOL, 'vq decoder');
  });

  it('encoder: encode.image → encode.latent', async () => {
    const e = await getEngine();
    const x = arrays.get('encode.image')!;
    const out = net(e).encoder(e.fromArray(x.shape, x.data as Float32Array));
    expectClose(await e.readF32(out), f32(arrays, 'encode.latent'), TOL, 'vq encoder');
  });
});
