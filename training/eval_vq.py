"""Reconstruction quality of an exported (or trained) VQ tokenizer on a dataset split: PSNR per image
(mean, 10th percentile, median) after encode → quantise → decode, exactly the path the browser decodes.

Usage (repo root): python training/eval_vq.py --vq public/models/vq-s --data data/packed --split test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode_tokens import load_vq  # noqa: E402
from mmamba.runutil import load_split  # noqa: E402
from mmamba.vq import images_to_tensor, psnr, tensor_to_images  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vq", required=True, help="exported VQ manifest dir, run dir or ckpt")
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (0 = all)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default=None)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    vq = load_vq(args.vq, dev).eval()
    images, _ = load_split(args.data, args.split)  # (N, 128, 128, 3) uint8
    if args.limit:
        images = images[: args.limit]
    t0 = time.time()
    scores = []
    with torch.no_grad():
        for i in range(0, images.shape[0], args.batch_size):
            x = images_to_tensor(images[i : i + args.batch_size].to(dev))  # (b, 3, H, W) in the VQ's range
            tokens = vq.encode(x)  # (b, g, g)
            rec = tensor_to_images(vq.decode_tokens(tokens))  # (b, H, W, 3) uint8
            ref = images[i : i + args.batch_size].to(dev)
            # PSNR of the uint8 image the page shows against the original
            scores.append(psnr(images_to_tensor(rec), images_to_tensor(ref)).cpu())
    s = torch.cat(scores).numpy()
    out = {
        "split": args.split,
        "images": int(s.shape[0]),
        "psnr_mean": float(s.mean()),
        "psnr_p10": float(np.percentile(s, 10)),
        "psnr_median": float(np.median(s)),
        "seconds": round(time.time() - t0, 1),
        "vq": args.vq,
    }
    print(json.dumps(out), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
