// The parameter tables the TypeScript models read: name → shape, derived only from the manifest config (the
// PyTorch module layouts of training/mmamba/{text_encoder,mmamba,uvit,vq}.py). The model constructors upload
// exactly these (shape-checked), and tests check shipped manifests against them without a GPU.
import { dtRank, type MMambaConfig, type TextConfig, type UViTConfig, type VQConfig } from './common';

export type ParamTable = Map<string, number[]>;

const linear = (t: ParamTable, name: string, out: number, inp: number, bias = true) => {
  t.set(`${name}.weight`, [out, inp]);
  if (bias) t.set(`${name}.bias`, [out]);
};

export function textParams(c: TextConfig, d: number, condDim: number, prefix = 'text.'): ParamTable {
  const t: ParamTable = new Map();
  const w = c.width;
  t.set(`${prefix}tok_emb.weight`, [c.vocab_size, w]);
  t.set(`${prefix}pos_emb`, [c.max_len, w]);
  for (let i = 0; i < c.layers; i++) {
    const P = `${prefix}layers.${i}.`;
    t.set(`${P}norm1.weight`, [w]);
    t.set(`${P}norm1.bias`, [w]);
    linear(t, `${P}attn.qkv`, 3 * w, w);
    linear(t, `${P}attn.out`, w, w);
    t.set(`${P}norm2.weight`, [w]);
    t.set(`${P}norm2.bias`, [w]);
    linear(t, `${P}mlp.0`, c.ffn_mult * w, w);
    linear(t, `${P}mlp.2`, w, c.ffn_mult * w);
  }
  t.set(`${prefix}norm.weight`, [w]);
  t.set(`${prefix}norm.bias`, [w]);
  linear(t, `${prefix}proj`, d, w);
  linear(t, `${prefix}pool_proj`, condDim, w);
  return t;
}

/** M-Mamba without its text encoder. */
export function mmambaParams(c: MMambaConfig): ParamTable {
  const t: ParamTable = new Map();
  const { d, cond_dim: cd } = c;
  const di = c.expand * d;
  const R = dtRank(c);
  const N = c.d_state;
  const K = c.directions;
  t.set('img_emb.weight', [c.codebook_size + 1, d]);
  if (c.pos_emb) t.set('pos_emb', [c.grid * c.grid, d]);
  for (let i = 0; i < c.layers; i++) {
    const P = `layers.${i}.`;
    linear(t, `${P}mod.proj`, 3 * d, cd);
    linear(t, `${P}in_proj`, 2 * di, d, false);
    t.set(`${P}conv_weight`, [K, di, c.d_conv]);
    t.set(`${P}conv_bias`, [K, di]);
    t.set(`${P}x_proj_weight`, [K, R + 2 * N, di]);
    t.set(`${P}dt_proj_weight`, [K, di, R]);
    t.set(`${P}dt_proj_bias`, [K, di]);
    t.set(`${P}A_log`, [K, di, N]);
    t.set(`${P}D`, [K, di]);
    t.set(`${P}out_norm.weight`, [di]);
    t.set(`${P}out_norm.bias`, [di]);
    linear(t, `${P}out_proj`, d, di, false);
    if (c.ffn) {
      const h = c.ffn_mult * d;
      linear(t, `${P}ffn_mod.proj`, 3 * d, cd);
      linear(t, `${P}ffn.w_in`, 2 * h, d);
      linear(t, `${P}ffn.w_out`, d, h);
    }
  }
  t.set('head_norm.weight', [d]);
  linear(t, 'head', c.codebook_size, d);
  return t;
}

/** UViT without its text encoder. */
export function uvitParams(c: UViTConfig): ParamTable {
  const t: ParamTable = new Map();
  const { d, cond_dim: cd } = c;
  const h = c.ffn_mult * d;
  t.set('img_emb.weight', [c.codebook_size + 1, d]);
  t.set('pos_emb', [c.grid * c.grid, d]);
  for (let i = 0; i < c.layers; i++) {
    const P = `layers.${i}.`;
    linear(t, `${P}attn_mod.proj`, 3 * d, cd);
    linear(t, `${P}attn.qkv`, 3 * d, d);
    linear(t, `${P}attn.out`, d, d);
    t.set(`${P}cross_norm.weight`, [d]);
    linear(t, `${P}cross.q`, d, d);
    linear(t, `${P}cross.kv`, 2 * d, d);
    linear(t, `${P}cross.out`, d, d);
    linear(t, `${P}ffn_mod.proj`, 3 * d, cd);
    linear(t, `${P}ffn.w_in`, 2 * h, d);
    linear(t, `${P}ffn.w_out`, d, h);
  }
  t.set('head_norm.weight', [d]);
  linear(t, 'head', c.codebook_size, d);
  return t;
}

/** Text encoder + generator: everything a generator manifest must hold. */
export function generatorParams(c: MMambaConfig | UViTConfig): ParamTable {
  const g = c.arch === 'mmamba' ? mmambaParams(c) : uvitParams(c);
  return new Map([...textParams(c.text, c.d, c.cond_dim), ...g]);
}

const conv = (t: ParamTable, name: string, cout: number, cin: number, k: number) => {
  t.set(`${name}.weight`, [cout, cin, k, k]);
  t.set(`${name}.bias`, [cout]);
};
const norm = (t: ParamTable, name: string, ch: number) => {
  t.set(`${name}.weight`, [ch]);
  t.set(`${name}.bias`, [ch]);
};
const res = (t: ParamTable, name: string, cin: number, cout: number) => {
  norm(t, `${name}.norm1`, cin);
  conv(t, `${name}.conv1`, cout, cin, 3);
  norm(t, `${name}.norm2`, cout);
  conv(t, `${name}.conv2`, cout, cout, 3);
  if (cin !== cout) conv(t, `${name}.skip`, cout, cin, 1);
};

export function vqDecoderParams(c: VQConfig): ParamTable {
  const t: ParamTable = new Map();
  const chs = c.ch_mult.map((m) => c.ch * m);
  let ch = chs[chs.length - 1]!;
  t.set('quant.codebook', [c.codebook_size, c.code_dim]);
  conv(t, 'decoder.conv_in', ch, c.code_dim, 3);
  for (let m = 0; m < c.mid_blocks; m++) res(t, `decoder.mid.${m}`, ch, ch);
  for (let l = 0; l < chs.length; l++) {
    const i = chs.length - 1 - l;
    for (let j = 0; j < c.dec_res_blocks; j++)
      res(t, `decoder.levels.${l}.blocks.${j}`, j === 0 ? ch : chs[i]!, chs[i]!);
    ch = chs[i]!;
    if (i > 0) conv(t, `decoder.levels.${l}.up`, ch, ch, 3);
  }
  norm(t, 'decoder.norm_out', ch);
  conv(t, 'decoder.conv_out', c.in_channels, ch, 3);
  return t;
}

export function vqEncoderParams(c: VQConfig): ParamTable {
  const t: ParamTable = new Map();
  const chs = c.ch_mult.map((m) => c.ch * m);
  t.set('quant.codebook', [c.codebook_size, c.code_dim]);
  conv(t, 'encoder.conv_in', chs[0]!, c.in_channels, 3);
  let cin = chs[0]!;
  chs.forEach((ch, i) => {
    for (let j = 0; j < c.enc_res_blocks; j++) res(t, `encoder.levels.${i}.blocks.${j}`, j === 0 ? cin : ch, ch);
    cin = ch;
    if (i < chs.length - 1) conv(t, `encoder.levels.${i}.down`, ch, ch, 3);
  });
  for (let m = 0; m < c.mid_blocks; m++) res(t, `encoder.mid.${m}`, cin, cin);
  norm(t, 'encoder.norm_out', cin);
  conv(t, 'encoder.conv_out', c.code_dim, cin, 1);
  return t;
}
