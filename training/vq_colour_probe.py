"""Where does the VQ lose colour? On N test drawings the colour rule (mmamba/metrics.py) reads the art colour of
  real         the drawings themselves (the rule's own ceiling)
  recon        their VQ reconstructions: encode -> quantise -> decode, what any generator's tokens can reach
  unquantised  the decoder fed the encoder's normalised latents instead of codes (quantisation taken out)
per prompt colour. With --overfit K, a copy of the decoder is then trained on K drawings whose reconstruction
misses the colour, on exactly those drawings' token ids, and the drawings it draws right again are counted every
few passes: an upper bound on what any decoder can recover from those ids.

  python training/vq_colour_probe.py --vq public/models/vq-s --data data/packed --n 600 --overfit 48 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode_tokens import load_vq  # noqa: E402
from finetune_vq_decoder import colour_hits, decoder_loss  # noqa: E402
from mmamba import data as D  # noqa: E402
from mmamba import metrics as M  # noqa: E402
from mmamba.vq import images_to_tensor, tensor_to_images  # noqa: E402


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vq", required=True, help="exported VQ dir, run dir or ckpt")
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--n", type=int, default=600, help="test drawings (a fixed hash order of the test split)")
    ap.add_argument("--overfit", type=int, default=0, metavar="K", help="overfit a decoder copy on K failing drawings")
    ap.add_argument("--passes", type=int, default=125)
    ap.add_argument("--report-every", type=int, default=25)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--pool", type=float, default=5.0, help="pooled-colour weight of the overfit loss")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    for name in ("n", "passes", "report_every", "batch"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name.replace('_', '-')} must be positive")
    if args.overfit < 0:
        ap.error("--overfit must be 0 or positive")
    return args


@torch.no_grad()
def reconstructions(vq, x: torch.Tensor, batch: int = 50) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """(recon uint8, unquantised-latent decode uint8, token ids) of images x (N, 3, S, S) in [-1, 1]."""
    rec, cont, ids = [], [], []
    for i in range(0, x.shape[0], batch):
        z = vq.encoder(x[i : i + batch])
        t = vq.quant.lookup(z)
        rec.append(tensor_to_images(vq.decode_tokens(t)).cpu().numpy())
        cont.append(tensor_to_images(vq.decoder(F.normalize(z.float(), dim=1))).cpu().numpy())
        ids.append(t)
    return np.concatenate(rec), np.concatenate(cont), torch.cat(ids)


def overfit_decoder(vq, x: torch.Tensor, ids: torch.Tensor, colours: list[str], args, log) -> list[dict]:
    """Train vq's decoder (in place) on exactly these drawings and ids; the colour hits every report_every passes."""
    for p in vq.parameters():
        p.requires_grad_(False)
    params = list(vq.decoder.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=args.lr)
    curve = []
    for k in range(1, args.passes + 1):
        for j in range(0, x.shape[0], args.batch):
            loss = decoder_loss(vq.decode_tokens(ids[j : j + args.batch]), x[j : j + args.batch], 0.0, args.pool, 8)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if k % args.report_every == 0 or k == args.passes:
            with torch.no_grad():
                drawn = tensor_to_images(vq.decode_tokens(ids)).cpu().numpy()
            curve.append(
                {"passes": k, "loss": round(loss.item(), 5), "recovered": int(colour_hits(drawn, colours).sum())}
            )
            log(f"overfit pass {k}: last batch loss {loss.item():.4f}, colour recovered {curve[-1]['recovered']}")
    return curve


def main(argv=None) -> dict:
    args = parse(argv)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    t0 = time.time()
    pack = D.load_pack(args.data, args.seed)
    entries = sorted(pack.splits["test"], key=lambda ei: D._u32(args.seed, "vq-colour-probe", ei))[: args.n]
    colours = [pack.prompt_facts(e)["colour"] for e in entries]
    real = D.decode_images(pack, entries)
    vq = load_vq(args.vq, dev).float().eval()
    x = images_to_tensor(torch.from_numpy(real).to(dev))
    rec, cont, ids = reconstructions(vq, x)
    hits = {
        "real": colour_hits(real, colours),
        "recon": colour_hits(rec, colours),
        "unquantised": colour_hits(cont, colours),
    }
    lost = hits["real"] & ~hits["recon"]  # drawings the rule reads right and their reconstruction wrong
    n_of, missed = Counter(), Counter()
    for c, r, miss in zip(colours, hits["real"], lost):
        n_of[c] += int(r)
        missed[c] += int(miss)
    read_as = Counter((colours[i], M.image_colours(rec[i])[0]) for i in np.nonzero(lost)[0])
    out = {
        "vq": args.vq,
        "n": len(entries),
        "colour": {k: float(v.mean()) for k, v in hits.items()},
        "missed_by_colour": {c: [n_of[c], missed[c]] for c in sorted(n_of)},  # colour: [read right, lost by recon]
        "confusions": [[a, b, n] for (a, b), n in read_as.most_common(10)],  # [prompt colour, recon read as, count]
    }
    print(json.dumps({k: out[k] for k in ("n", "colour", "missed_by_colour")}), flush=True)
    if args.overfit:
        fail = np.nonzero(lost)[0][: args.overfit]
        out["overfit"] = {
            "drawings": int(fail.size),
            "lr": args.lr,
            "pool": args.pool,
            "curve": overfit_decoder(vq, x[fail], ids[fail], [colours[i] for i in fail], args, print),
        }
    out["seconds"] = round(time.time() - t0, 1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
