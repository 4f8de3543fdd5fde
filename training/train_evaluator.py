"""Train the evaluator models (mmamba/evaluator.py): a CLIP-style contrastive image-text model and a concept
classifier whose penultimate features define the FID space. One process trains both on the same batches.

Data choice (docs/evaluation.md): the evaluators learn from the real images and captions of ALL splits (train,
val and test), except a fixed 1-in-20 hash hold-out of entries used only to report their accuracy. The test
split holds out whole concepts (153 of them have no training image) and concept/attribute combinations, so an
evaluator that never saw them could not recognise what the held-out prompts ask for. This does not leak into
the generators: they are trained by train_gen.py on train-split tokens only, and the evaluators are used only
to score images.

Everything runs from GPU tensors (images pre-resized once, no data loader), bf16 autocast on CUDA,
AdamW + warmup/cosine, translation augmentation (+ flips for the classifier only: captions name left/right).
--steps 0 (default) runs a cosine schedule over wall-clock progress that ends inside --max-minutes.

  python training/train_evaluator.py --data data/packed --bpe public/models/mmamba-s --out /tmp/runs/evaluators
  --max-minutes 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmamba import data as D  # noqa: E402
from mmamba.bpe import BPETokenizer  # noqa: E402
from mmamba.config import TextConfig  # noqa: E402
from mmamba.evaluator import (
    ClassifierConfig,
    ConceptClassifier,
    ContrastiveConfig,
    ContrastiveModel,  # noqa: E402
    TowerConfig,
    augment,
    preprocess,
    save_evaluators,
)
from mmamba.pool import map_items  # noqa: E402
from mmamba.runutil import RunLogger, autocast, load_split, save_json  # noqa: E402

HOLDOUT_EVERY = 20
CAPTION_VARIANTS = 4


def load_tokenizer(path: str) -> BPETokenizer:
    """A bpe.json (encode_tokens.py) or a generator manifest dir / manifest.json holding `tokenizer`."""
    if os.path.isdir(path):
        path = (
            os.path.join(path, "manifest.json")
            if os.path.exists(os.path.join(path, "manifest.json"))
            else os.path.join(path, "bpe.json")
        )
    with open(path) as f:
        d = json.load(f)
    return BPETokenizer.from_dict(d.get("tokenizer", d) if "merges" not in d else d)


def scheduled_lr(base_lr: float, step: int, warmup: int, progress: float, min_ratio: float = 0.1) -> float:
    """Linear warmup over `warmup` steps, then cosine from base_lr to min_ratio·base_lr as progress goes 0 -> 1."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0))))


def is_holdout(seed: int, entry: int) -> bool:
    return D._u32(seed, "evaluator-holdout", entry) % HOLDOUT_EVERY == 0


def build_dataset(
    data: str, bpe: BPETokenizer, text_len: int, image_size: int, device, seed: int = 0, splits=("train", "val", "test")
):
    """All entries of `splits`: images (N, 3, S, S) f16 preprocessed, captions (N, V, Lt) long,
    concept ids (N,), holdout mask (N,), origin split name per item, and the concept names."""
    pack = D.load_pack(data, seed)
    pack.paraphrase_set()  # built once here, inherited by the pool's workers
    concepts = sorted({b["concept"] for b in pack.bases})
    cid = {c: i for i, c in enumerate(concepts)}
    imgs, caps, labels, hold, origin = [], [], [], [], []
    for split in splits:
        u8, _ = load_split(data, split, seed=seed)  # (n, 128, 128, 3) uint8
        for i in range(0, u8.shape[0], 2048):
            imgs.append(preprocess(u8[i : i + 2048].to(device), image_size).half())
        ids = pack.splits[split]
        caps += map_items(
            lambda i: [
                bpe.encode(c, text_len)
                for c in [pack.caption(ids[i])] + [pack.caption(ids[i], v, i) for v in range(1, CAPTION_VARIANTS)]
            ],
            len(ids),
        )  # process pool, in order
        for ei in ids:
            labels.append(cid[pack.bases[pack.entries[ei].base]["concept"]])
            hold.append(is_holdout(seed, ei))
            origin.append(split)
    images = torch.cat(imgs)
    return (
        images,
        torch.tensor(caps, dtype=torch.long, device=device),
        torch.tensor(labels, dtype=torch.long, device=device),
        torch.tensor(hold, device=device),
        origin,
        concepts,
    )


@torch.no_grad()
def holdout_report(
    con: ContrastiveModel, cls: ConceptClassifier, images, caps, labels, idx, device, origin, batch: int = 256
) -> dict:
    """Classifier top-1/top-5 on the hold-out (overall and per origin split); contrastive image->text top-1
    among each chunk of `batch` canonical captions, and the mean matched cosine (x100)."""
    con.eval(), cls.eval()
    top1, top5, r1, cos = [], [], [], []
    for i in range(0, idx.numel(), batch):
        j = idx[i : i + batch]
        x = images[j].float()
        with autocast(device):
            logits = cls(x).float()
            im, tx = con.encode_image(x), con.encode_text(caps[j, 0])
        t5 = logits.topk(min(5, logits.shape[1]), 1).indices
        top1.append((t5[:, 0] == labels[j]).float())
        top5.append((t5 == labels[j][:, None]).any(1).float())
        sim = im @ tx.t()
        same = (caps[j, 0][:, None, :] == caps[j, 0][None, :, :]).all(-1)  # identical captions count
        r1.append(same[torch.arange(j.numel(), device=device), sim.argmax(1)].float())
        cos.append(sim.diagonal())
    con.train(), cls.train()
    t1, t5c = torch.cat(top1), torch.cat(top5)
    out = {
        "holdout_items": int(idx.numel()),
        "classifier_top1": float(t1.mean()),
        "classifier_top5": float(t5c.mean()),
        "contrastive_i2t_top1_in_256": float(torch.cat(r1).mean()),
        "contrastive_cos_x100": 100 * float(torch.cat(cos).mean()),
    }
    org = np.array([origin[k] for k in idx.tolist()])
    for s in ("train", "val", "test"):
        m = torch.from_numpy(org == s).to(device)
        if m.any():
            out[f"classifier_top1_{s}_split"] = float(t1[m].mean())
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="train the contrastive model and the concept classifier")
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--bpe", required=True, help="bpe.json or a generator manifest dir whose tokenizer to use")
    ap.add_argument("--out", required=True, help="run dir: evaluators.pt, log.jsonl, summary.json")
    ap.add_argument("--steps", type=int, default=0, help="0 = fit --max-minutes")
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="wall-clock budget (default 3 with --steps 0; none with --steps N, so the ruler is a fixed step count)",
    )
    ap.add_argument("--int8", action="store_true", help="store large weights as per-row int8 (the kept ruler)")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--text-len", type=int, default=24)
    ap.add_argument("--preset", choices=["small", "tiny"], default="small", help="tiny: for CPU tests")
    ap.add_argument("--splits", default="train,val,test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--log-every", type=int, default=100)
    args = ap.parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    log = RunLogger(args.out)
    t0 = time.time()

    bpe = load_tokenizer(args.bpe)
    images, caps, labels, hold, origin, concepts = build_dataset(
        args.data, bpe, args.text_len, args.image_size, dev, args.seed, tuple(args.splits.split(","))
    )
    train_idx, hold_idx = (~hold).nonzero()[:, 0], hold.nonzero()[:, 0]
    log.print(
        f"data: {images.shape[0]} images ({train_idx.numel()} train / {hold_idx.numel()} hold-out), "
        f"{len(concepts)} concepts, {time.time() - t0:.1f}s"
    )

    if args.preset == "tiny":
        tower = TowerConfig(widths=(8, 16), blocks=1, image_size=args.image_size)
        ccfg = ContrastiveConfig(
            tower=tower,
            text=TextConfig(vocab_size=bpe.vocab_size, max_len=args.text_len, width=16, layers=1, heads=2, ffn_mult=2),
            embed_dim=16,
        )
    else:
        # ~3.4 M parameters each: both fit one 16 MiB f16 file, so the metric's weights can travel and be reused
        tower = TowerConfig(widths=(32, 64, 128, 256), blocks=2, image_size=args.image_size)
        ccfg = ContrastiveConfig(
            tower=tower,
            text=TextConfig(vocab_size=bpe.vocab_size, max_len=args.text_len, width=128, layers=2, heads=4, ffn_mult=4),
            embed_dim=128,
        )
    con = ContrastiveModel(ccfg).to(dev).to(memory_format=torch.channels_last)
    cls = (
        ConceptClassifier(ClassifierConfig(tower=tower, num_classes=len(concepts)))
        .to(dev)
        .to(memory_format=torch.channels_last)
    )
    params = list(con.parameters()) + list(cls.parameters())
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        **({"fused": True} if dev.type == "cuda" else {}),
    )
    n_con = sum(p.numel() for p in con.parameters())
    n_cls = sum(p.numel() for p in cls.parameters())
    log.print(f"contrastive {n_con / 1e6:.2f}M params, classifier {n_cls / 1e6:.2f}M params, device {dev}")
    # --steps N: cosine over steps. --steps 0: cosine over wall-clock progress toward the budget, so the schedule
    # anneals by the deadline even when the GPU is shared and the step rate changes during the run.
    by_time = args.steps <= 0
    warmup = args.warmup if by_time else max(1, min(args.warmup, args.steps // 5))
    t_train = time.time()
    if args.max_minutes is None and by_time:
        args.max_minutes = 3.0
    # 25 s left for the report and save; with --steps N and no --max-minutes there is no time cap
    train_seconds = (
        max(args.max_minutes * 60 - 25.0 - (t_train - t0), 1.0) if args.max_minutes is not None else float("inf")
    )
    g = torch.Generator(device=dev).manual_seed(args.seed)
    V = caps.shape[1]
    step, t_last = 0, time.time()
    while True:
        progress = (time.time() - t_train) / train_seconds if by_time else (step - warmup) / max(args.steps - warmup, 1)
        if step >= 2 and (progress >= 1.0 if by_time else step >= args.steps):
            break
        lr = scheduled_lr(args.lr, step, warmup, progress)
        for grp in opt.param_groups:
            grp["lr"] = lr
        j = train_idx[torch.randint(0, train_idx.numel(), (args.batch_size,), device=dev, generator=g)]
        x = images[j].float()
        ids = caps[j, torch.randint(0, V, (j.numel(),), device=dev, generator=g)]  # (b, Lt)
        group = torch.unique(ids, dim=0, return_inverse=True)[1]  # equal captions
        with autocast(dev):
            loss_cls = F.cross_entropy(cls(augment(x, 4, True, g)).float(), labels[j], label_smoothing=0.1)
            loss_con = con.loss(augment(x, 4, False, g), ids, group)
        loss = loss_cls + loss_con
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            now = time.time()
            log.log(
                {
                    "step": step,
                    "loss_classifier": float(loss_cls.detach()),
                    "loss_contrastive": float(loss_con.detach()),
                    "temperature": float(1 / con.logit_scale.detach().exp()),
                    "lr": lr,
                    "images_s": args.log_every * args.batch_size / max(now - t_last, 1e-6) if step > 1 else 0.0,
                    "elapsed_s": now - t0,
                }
            )
            t_last = now
        if not by_time and time.time() - t_train > train_seconds and step >= 2:
            log.print(f"time budget reached at step {step} of {args.steps}")
            break

    rep = holdout_report(con, cls, images, caps, labels, hold_idx, dev, origin)
    rep.update(
        steps=step,
        final_lr=lr,
        seconds=round(time.time() - t0, 1),
        images=int(images.shape[0]),
        concepts=len(concepts),
        contrastive_params=n_con,
        classifier_params=n_cls,
        final_loss_classifier=float(loss_cls.detach()),
        final_loss_contrastive=float(loss_con.detach()),
    )
    log.log({"holdout": rep})
    os.makedirs(args.out, exist_ok=True)
    save_evaluators(
        os.path.join(args.out, "evaluators.pt"),
        con,
        cls,
        bpe.to_dict(),
        concepts,
        extra={"summary": rep, "args": vars(args)},
        int8=args.int8,
    )
    save_json(os.path.join(args.out, "summary.json"), rep)
    log.print(
        f"HOLDOUT classifier top1 {rep['classifier_top1']:.3f} top5 {rep['classifier_top5']:.3f}; "
        f"contrastive i2t top1 {rep['contrastive_i2t_top1_in_256']:.3f} cos {rep['contrastive_cos_x100']:.1f}; "
        f"{step} steps in {rep['seconds']}s -> {args.out}/evaluators.pt"
    )
    return rep


if __name__ == "__main__":
    main()
