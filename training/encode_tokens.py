"""Pre-compute the generators' training data: train the BPE tokenizer on the train-split captions
(mmamba/bpe.py), then encode every split (all recolour variants and icon scenes, i.e. every pack entry)
once with the trained VQ into compact uint16 token grids, with the captions' BPE ids.

Output dir (--out), read by train_gen.py --data:
  bpe.json                 BPETokenizer.to_dict() (trained on the train captions only: all stored variants)
  tokens_<split>.npz       tokens (N, HW) uint16 image tokens (row-major grid);
                           text (N, V, Lt) uint16 BPE ids of V captions per item (V = --caption-variants,
                           default data.CAPTION_VARIANTS = 8): the canonical caption, then V-1 variations
                           (data.Pack.caption(ei, epoch=v, index): bare concept, article, colour before/after,
                           style, "X emoji", "an icon of X", scene ...); entry (N,) int32
  tokens_meta.json         grid, codebook_size, text_len, vocab_size, caption_variants, counts, vq source

  python training/encode_tokens.py --data data/packed --vq training/runs/vq --out training/runs/tokens
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from mmamba.bpe import BPETokenizer
from mmamba.checkpoint import latest_checkpoint
from mmamba.pool import map_items
from mmamba.runutil import autocast, load_split, save_json, synthetic_captions
from mmamba.vq import VQConfig, VQModel, images_to_tensor


def load_vq(path: str, device) -> VQModel:
    """A VQModel from a train_vq.py run dir / ckpt-*.pt, or from an exported manifest dir."""
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "manifest.json")):
        from mmamba.export import load_state_dict_from_manifest

        man, sd = load_state_dict_from_manifest(path)
        m = VQModel(VQConfig.from_dict(man["config"]))
        m.load_state_dict(sd)
        return m.to(device).eval()
    ck = latest_checkpoint(path) if os.path.isdir(path) else path
    if ck is None:
        raise FileNotFoundError(f"no VQ checkpoint in {path}; run train_vq.py first")
    st = torch.load(ck, map_location="cpu", weights_only=True)
    m = VQModel(VQConfig.from_dict(st["extra"]["config"]))
    m.load_state_dict(st["ema"]["shadow"] if st.get("ema") else st["model"])
    return m.to(device).eval()


def caption_sets(data: str, split: str, variants: int, seed: int = 0):
    """List over items of [canonical caption, variation 1, ..., variation V-1] (made in a process pool)."""
    if data.startswith("synthetic:"):
        _, caps = load_split(data, split)
        return [[c] * variants for c in caps], list(range(len(caps)))
    from mmamba import data as D

    p = D.load_pack(data, seed)
    ids = p.splits[split]
    p.paraphrase_set()  # built once here, inherited by the workers
    return map_items(
        lambda i: [p.caption(ids[i])] + [p.caption(ids[i], v, i) for v in range(1, variants)], len(ids)
    ), list(ids)


def caption_ids(bpe: BPETokenizer, caps: list[list[str]], text_len: int) -> np.ndarray:
    """(N, V, Lt) uint16 BPE ids of V captions per item (encoded in a process pool)."""
    ids = map_items(lambda i: [bpe.encode(c) for c in caps[i]], len(caps))
    return np.array(ids, dtype=np.uint16).reshape(len(caps), len(caps[0]) if caps else 0, text_len)


def reused_image_tokens(src: str, split: str, entries: list, cfg) -> np.ndarray:
    """The image tokens of an earlier encode_tokens.py run over the same pack and VQ (only the captions' tokenizer
    differs): refuses a run whose entries or VQ differ."""
    with open(os.path.join(src, "tokens_meta.json")) as f:
        m = json.load(f)
    if m.get("vq_config") != cfg.to_dict():
        raise SystemExit(f"--image-tokens-from {src}: made with another VQ config")
    z = np.load(os.path.join(src, f"tokens_{split}.npz"))
    if not np.array_equal(z["entry"], np.asarray(entries, np.int32)):
        raise SystemExit(f"--image-tokens-from {src}: its {split} entries differ (another pack or split seed)")
    return z["tokens"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="BPE + VQ-encode the dataset for train_gen.py")
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--vq", required=True, help="train_vq.py run dir, ckpt-*.pt, or exported VQ manifest dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--splits", default="train,val,test")
    ap.add_argument("--vocab-size", type=int, default=1024, help="BPE vocab (<= generator text.vocab_size)")
    ap.add_argument("--text-len", type=int, default=16, help="Lt (= generator text.max_len)")
    ap.add_argument(
        "--caption-variants", type=int, default=None, help="captions stored per item (default data.CAPTION_VARIANTS)"
    )
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument(
        "--tokenizer-version",
        type=int,
        choices=(1, 2),
        default=2,
        help="1: split on spaces (the shipped v1 models); 2: word-boundary pieces (mmamba/bpe.py)",
    )
    ap.add_argument(
        "--prior",
        default=None,
        help="word-prior table (training/prior/<name>.npz): its words become v2 word ids, and "
        "train_gen.py builds the text encoder with this frozen prior",
    )
    ap.add_argument(
        "--image-tokens-from",
        default=None,
        help="reuse the image tokens of an earlier run over the same pack and VQ (re-tokenise captions only)",
    )
    ap.add_argument("--seed", type=int, default=0, help="dataset split seed")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    if args.caption_variants is None:
        from mmamba import data as D

        args.caption_variants = D.CAPTION_VARIANTS
    if args.caption_variants < 1:
        raise SystemExit("--caption-variants must be >= 1")
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    bpe_path = os.path.join(args.out, "bpe.json")
    sets_of: dict = {}  # split -> caption_sets(...), computed once
    if args.data.startswith("synthetic:"):
        train_caps = synthetic_captions(int(args.data.split(":")[1]))
    else:
        from mmamba import data as D

        sets_of["train"] = caption_sets(args.data, "train", args.caption_variants, args.seed)
        train_caps = [c for cs in sets_of["train"][0] for c in cs]
    prior = None
    if args.prior:
        from mmamba.text_encoder import prior_config, read_prior

        if args.tokenizer_version != 2:
            raise SystemExit("--prior needs --tokenizer-version 2 (known words are v2 word ids)")
        prior = {"path": os.path.abspath(args.prior), **prior_config(args.prior)}
        words = read_prior(args.prior).words
    else:
        words = None
    bpe = BPETokenizer.train(
        train_caps, vocab_size=args.vocab_size, max_len=args.text_len, words=words, version=args.tokenizer_version
    )
    save_json(bpe_path, bpe.to_dict())
    print(f"BPE: {bpe.vocab_size} ids from {len(train_caps)} train captions ({time.time() - t0:.1f}s)", flush=True)

    vq = load_vq(args.vq, dev)
    cfg = vq.cfg
    meta = {
        "grid": cfg.grid,
        "codebook_size": cfg.codebook_size,
        "text_len": args.text_len,
        "vocab_size": bpe.vocab_size,
        "tokenizer_version": args.tokenizer_version,
        "prior": prior,
        "caption_variants": args.caption_variants,
        "vq": os.path.abspath(args.vq),
        "vq_config": cfg.to_dict(),
        "data": args.data,
        "seed": args.seed,
        "counts": {},
    }
    for split in args.splits.split(","):
        caps, entries = sets_of.pop(split, None) or caption_sets(args.data, split, args.caption_variants, args.seed)
        if args.image_tokens_from:
            tokens = reused_image_tokens(args.image_tokens_from, split, entries, cfg)
        else:
            images, _ = load_split(args.data, split, cfg.image_size, seed=args.seed)
            assert len(caps) == images.shape[0], (len(caps), images.shape)
            toks = []
            with torch.no_grad():
                for i in range(0, images.shape[0], args.batch_size):
                    x = images_to_tensor(images[i : i + args.batch_size].to(dev))  # (b, 3, S, S)
                    with autocast(dev):
                        z = vq.encoder(x)
                    toks.append(vq.quant.lookup(z.float()).flatten(1).cpu())  # (b, HW)
            tokens = (
                (torch.cat(toks) if toks else torch.zeros(0, cfg.grid**2, dtype=torch.long)).numpy().astype(np.uint16)
            )
        text = caption_ids(bpe, caps, args.text_len).reshape(len(caps), args.caption_variants, args.text_len)
        np.savez(
            os.path.join(args.out, f"tokens_{split}.npz"), tokens=tokens, text=text, entry=np.asarray(entries, np.int32)
        )
        meta["counts"][split] = int(tokens.shape[0])
        used = len(np.unique(tokens)) if tokens.size else 0
        print(
            f"{split}: {tokens.shape[0]} items, {used}/{cfg.codebook_size} codes used ({time.time() - t0:.1f}s)",
            flush=True,
        )
    save_json(os.path.join(args.out, "tokens_meta.json"), meta)
    print(f"wrote {args.out} in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
