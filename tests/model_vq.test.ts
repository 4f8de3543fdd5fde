// VQ decoder/encoder classes (src/model/vq_decoder.ts, vq_encoder.ts) against PyTorch (tests/fixtures/vq_tiny):
// tokens → codebook vectors → pixels, image → latent → tokens, and the RGBA conversion of vq.py tensor_to_images.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VQConfig } from '../src/model/common';
import { allFusions, type Fusions, noFusions } from '../src/model/fusions';
import { toRGBA, VQDecoder } from '../src/model/vq_decoder';
import { VQEncoder } from '../src/model/vq_encoder';
import { loadWeights, type Manifest } from '../src/model/weights';
import { expectClose, expectEqualInts, getEngine, normalisedError } from './gpu';
import { f32, readSafetensors } from './golden_io';

// README's forward tolerance (f32 stages); ~20 convs and norms deep. The codebook rows are re-normalised here in
// f64 (PyTorch: f32), a difference of ~1 ulp in the decoder input.
const TOL = 1e-4;
const DIR = resolve(__dirname, 'fixtures/vq_tiny');

describe('VQ classes vs PyTorch (vq_tiny)', () => {
  const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
  const b = readFileSync(`${DIR}/model-00000.safetensors`);
  const weights = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
  const arrays = readSafetensors(`${DIR}/arrays.safetensors`);
  const cfg = manifest.config as unknown as VQConfig;

  it('decoder: decode.tokens → decode.input → decode.pixels', async () => {
    const e = await getEngine();
    const dec = new VQDecoder(e, cfg, weights);
    const tokens = arrays.get('decode.tokens')!.data;
    expectClose(dec.embed(tokens, 1), f32(arrays, 'decode.input'), 1e-6, 'codebook[tokens]');
    const out = dec.decode(tokens, 1);
    const got = await e.readF32(out);
    const want = f32(arrays, 'decode.pixels');
    console.log(`vq_tiny decoder pixels normalised error ${normalisedError(got, want).toExponential(2)}`);
    expectClose(got, want, TOL, 'decode.pixels');
    const rgba = await dec.decodeToRGBA(tokens);
    expect(rgba.length).toBe(cfg.image_size ** 2 * 4);
    const S = cfg.image_size;
    const wantRGBA = toRGBA(want, S);
    let maxDiff = 0;
    for (let i = 0; i < rgba.length; i++) maxDiff = Math.max(maxDiff, Math.abs(rgba[i]! - wantRGBA[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1); // a value at a rounding boundary may flip by one level
    // masked positions decode as the neutral token
    const masked = Int32Array.from(tokens);
    masked[0] = cfg.codebook_size;
    const z = dec.embed(masked, 1);
    const withNeutral = Int32Array.from(tokens);
    withNeutral[0] = dec.neutralToken;
    expect(z).toEqual(dec.embed(withNeutral, 1));
    out.dispose();
    dec.dispose();
  });

  // The VQ decoder's inference fusions (src/model/fusions.ts vqNormConv, vqConvRows2, vqStats1Pass, vqSmallTiles): every setting within the same
  // tolerance of PyTorch, within 1e-5 of the unfused decode, and the fused ResBlock 3 dispatches shorter.
  it('decoder with the vq fusions on and off: decode.pixels, dispatch counts', async () => {
    const e = await getEngine();
    const dec = new VQDecoder(e, cfg, weights);
    const tokens = arrays.get('decode.tokens')!.data;
    const want = f32(arrays, 'decode.pixels');
    const settings: Array<[string, Fusions]> = [
      ['none', noFusions()],
      ['all', allFusions()],
      ['vqNormConv only', { ...noFusions(), vqNormConv: true }],
      ['vqConvRows2 only', { ...noFusions(), vqConvRows2: true }],
      ['vqStats1Pass only', { ...noFusions(), vqStats1Pass: true }],
      ['vqSmallTiles only', { ...noFusions(), vqSmallTiles: true }],
    ];
    const got: Float32Array[] = [];
    const dispatches: number[] = [];
    for (const [name, f] of settings) {
      dec.fusions = f;
      const d0 = e.dispatchCount;
      const out = dec.decode(tokens, 1);
      dispatches.push(e.dispatchCount - d0);
      const x = await e.readF32(out);
      out.dispose();
      console.log(
        `vq_tiny decoder (${name}): ${dispatches.at(-1)} dispatches, normalised error ${normalisedError(x, want).toExponential(2)}`,
      );
      expectClose(x, want, TOL, `decode.pixels, fusions ${name}`);
      if (got.length) expectClose(x, got[0]!, 1e-5, `decode.pixels, fusions ${name} vs none`);
      got.push(x);
    }
    // per ResBlock: gn_apply ×2 and the add go; norm_out's gn_apply goes
    const resBlocks = cfg.mid_blocks + cfg.ch_mult.length * cfg.dec_res_blocks;
    expect(dispatches[0]! - dispatches[2]!).toBe(3 * resBlocks + 1);
    expect(dispatches[3]).toBe(dispatches[0]);
    expect(dispatches[4]).toBe(dispatches[0]);
    expect(dispatches[5]).toBe(dispatches[0]);
    dec.dispose();
  });

  it('encoder: encode.image → encode.latent → encode.tokens', async () => {
    const e = await getEngine();
    const enc = new VQEncoder(e, cfg, weights);
    const img = arrays.get('encode.image')!;
    const x = e.fromArray(img.shape, img.data);
    const z = enc.latent(x);
    const lat = await e.readF32(z);
    console.log(
      `vq_tiny encoder latent normalised error ${normalisedError(lat, f32(arrays, 'encode.latent')).toExponential(2)}`,
    );
    expectClose(lat, f32(arrays, 'encode.latent'), TOL, 'encode.latent');
    expectEqualInts(await enc.encode(x), arrays.get('encode.tokens')!.data, 'encode.tokens');
    x.dispose();
    z.dispose();
    enc.dispose();
  });

  it('toRGBA clamps, rounds half to even (torch.round) and sets alpha', () => {
    // channel planes (3, 2, 2): R = [-2, 2, 0, 1 - 3/255], G = [0.5, 0, 0, 0], B = 0
    const x = new Float32Array([-2, 2, 0, 1 - 3 / 255, 0.5, 0, 0, 0, 0, 0, 0, 0]);
    const out = toRGBA(x, 2);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 191, 128, 255]); // clamp; 191.25 → 191; 127.5 → 128 (even)
    expect(out[4]).toBe(255); // clamp
    expect(out[8]).toBe(128); // 127.5 → 128 (even)
    expect(out[12]).toBe(254); // 253.5 → 254 (even)
  });
});
