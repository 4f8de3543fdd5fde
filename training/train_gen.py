"""Train a text-to-image generator (M-Mamba or the UViT baseline) on pre-computed VQ tokens; 1..N GPUs.

Objective (docs/architecture.md "Training objective"; MaskGIT / MUSE / aMUSEd): per sample t ~ U(0,1), mask ratio r =
cos(pi/2 * t),
cross-entropy on the masked positions only (sampling.mask_for_training / masked_token_loss); the text is
replaced by the empty prompt 10% of the time (sampling.drop_text) so classifier-free guidance works.
Each step picks one of the stored caption variations per item (encode_tokens.py --caption-variants).
AdamW (no decay on norms/biases/embeddings), warmup + cosine LR, bf16 autocast on GPU, grad clipping,
EMA of the weights (exported by default). All tokens live in GPU memory; batches are gathered there.
Validation: masked-token CE on the val split with a fixed mask generator, comparable across models.

  python training/train_gen.py --model mmamba --data training/runs/tokens --out training/runs/mmamba --max-minutes 8
  torchrun --nproc_per_node=2 training/train_gen.py --model uvit --data training/runs/tokens --out training/runs/uvit
  --max-minutes 8
  torchrun --nproc_per_node=2 training/train_gen.py --model mmamba --data training/runs/tokens --out /tmp/b
  --bench-steps 50
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time

import numpy as np
import torch
from mmamba import config as C
from mmamba.bpe import BPETokenizer
from mmamba.checkpoint import EMA, Deadline, latest_checkpoint, load_checkpoint, save_checkpoint
from mmamba.dist import EpochBatcher, all_reduce_mean, cleanup, init_distributed, seed_everything, wrap_ddp
from mmamba.runutil import (
    CosineSchedule,
    RunLogger,
    add_common_args,
    autocast,
    checkpoint_due,
    device_sync,
    finish_run,
    fix_auto_steps,
    save_json,
)
from mmamba.sampling import drop_text, mask_for_training, masked_token_loss


def build_model(kind: str, cfg):
    if kind == "mmamba":
        from mmamba.mmamba import MMamba

        return MMamba(cfg)
    from mmamba.uvit import UViT

    return UViT(cfg)


def preset_config(kind: str, preset: str, meta: dict):
    """The preset's config with the grid / codebook of the VQ that made the tokens and Lt of the captions."""
    fn = {
        ("mmamba", "small"): C.small_mmamba,
        ("mmamba", "tiny"): C.tiny_mmamba,
        ("uvit", "small"): C.small_uvit,
        ("uvit", "tiny"): C.tiny_uvit,
    }[(kind, preset)]
    cfg = fn()
    text = cfg.text
    if text.max_len != meta["text_len"] or text.vocab_size < meta["vocab_size"]:
        text = dataclasses.replace(text, max_len=meta["text_len"], vocab_size=max(text.vocab_size, meta["vocab_size"]))
    prior = meta.get("prior")
    if prior:  # a frozen word prior (text_encoder.py): the tokenizer's last prior_words ids are its words
        text = dataclasses.replace(
            text,
            vocab_size=meta["vocab_size"],
            **{k: prior[k] for k in ("prior_words", "prior_dim", "prior_name", "prior_sha256")},
        )
    return dataclasses.replace(cfg, text=text, grid=meta["grid"], codebook_size=meta["codebook_size"])


def apply_architecture_flags(kind: str, cfg, args):
    """Ablation overrides of the preset (docs/evaluation.md): only the flags given change the config."""
    over = {k: getattr(args, k) for k in ("d", "layers") if getattr(args, k) is not None}
    mm_only = {
        k: getattr(args, k)
        for k in ("directions", "text_position", "ffn", "ffn_mult", "pos_emb", "expand", "d_state")
        if getattr(args, k, None) is not None
    }
    if mm_only and kind != "mmamba":
        raise SystemExit(f"{sorted(mm_only)} only apply to --model mmamba")
    if "d" in over and kind == "mmamba":
        over["dt_rank"] = None  # re-derived as ceil(d / 16)
    return dataclasses.replace(cfg, **over, **mm_only) if (over or mm_only) else cfg


def load_tokens(data: str, split: str, device: torch.device):
    """(tokens (N, HW) int32, text (N, V, Lt) int32) on `device`."""
    z = np.load(os.path.join(data, f"tokens_{split}.npz"))
    return (
        torch.from_numpy(z["tokens"].astype(np.int32)).to(device),
        torch.from_numpy(z["text"].astype(np.int32)).to(device),
    )


def param_groups(model: torch.nn.Module, wd: float):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim < 2 or "emb" in n or n.endswith("A_log") or n.endswith(".D") or "norm" in n
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(
    model, tokens: torch.Tensor, text: torch.Tensor, mask_id: int, device, batch: int = 256, max_items: int = 2048
) -> float:
    """Masked-token CE on held-out items with a fixed mask generator (same masks for every model)."""
    model.eval()
    g = torch.Generator(device=device).manual_seed(1234)
    tot, n = 0.0, 0
    for i in range(0, min(tokens.shape[0], max_items), batch):
        tok = tokens[i : i + batch].long()  # (b, HW)
        txt = text[i : i + batch, 0].long()  # (b, Lt) canonical caption
        masked, mask = mask_for_training(tok, generator=g, mask_id=mask_id)
        with autocast(device):
            logits = model(masked, txt)  # (b, HW, K)
        tot += float(masked_token_loss(logits, tok, mask)) * tok.shape[0]
        n += tok.shape[0]
    model.train()
    return tot / max(n, 1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="train M-Mamba / UViT on VQ tokens")
    ap.add_argument("--model", choices=["mmamba", "uvit"], required=True)
    add_common_args(ap, lr=6e-4, batch_size=512)
    ap.add_argument("--text-drop", type=float, default=0.1)
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay (0 = off)")
    ap.add_argument("--val-every", type=int, default=1000)
    ap.add_argument("--grad-checkpoint", action="store_true")
    ap.add_argument(
        "--scan-path",
        choices=["fused", "split"],
        default=None,
        help="M-Mamba's CUDA training path (same math): fused kernels or the split steps (default: "
        "mmamba.DEFAULT_SCAN_PATH, env MMAMBA_SCAN_PATH)",
    )
    # architecture ablations (MMambaConfig fields; unset = the preset's value)
    ap.add_argument("--directions", type=int, choices=[1, 2, 4], default=None)
    ap.add_argument("--text-position", choices=["first", "middle"], default=None)
    ap.add_argument("--ffn", action=argparse.BooleanOptionalAction, default=None, help="GEGLU feed-forward sublayer")
    ap.add_argument("--ffn-mult", type=int, default=None)
    ap.add_argument("--expand", type=int, default=None, help="M-Mamba inner width = expand * d")
    ap.add_argument("--d-state", type=int, default=None, help="M-Mamba SSM state size N")
    ap.add_argument("--pos-emb", action=argparse.BooleanOptionalAction, default=None, help="learned image positions")
    ap.add_argument("--d", type=int, default=None, help="model width (both models)")
    ap.add_argument("--layers", type=int, default=None, help="layer count (both models)")
    ap.add_argument(
        "--train-images",
        type=int,
        default=0,
        help="equal training compute: steps = ceil(N / --batch-size) (overrides --steps)",
    )
    ap.add_argument(
        "--prior",
        default=None,
        help="word-prior table file, if not at the path tokens_meta.json records (checked by sha256)",
    )
    ap.add_argument(
        "--init-trunk",
        default=None,
        help="exported generator (manifest dir) whose non-text weights start this run: a new tokenizer or "
        "text encoder on a trained image trunk",
    )
    ap.add_argument(
        "--init-stage",
        default=None,
        help="stage checkpoint dir (mmamba.stage) of this campaign: its weights start this run (model and "
        "EMA), fresh AdamW, LR warm-up from its step; the step count continues",
    )
    ap.add_argument(
        "--swap-prior",
        action="store_true",
        help="with --init-stage: the stage was trained with another word-prior table over the same word list "
        "(e.g. GloVe, now MiniLM); everything loads but text.word_proj, which starts fresh for the new table",
    )
    ap.add_argument(
        "--prior-noise",
        type=float,
        default=0.0,
        help="training-only Gaussian noise of about this norm on the word-prior vectors (rows have RMS norm 1; "
        "text_encoder.py docstring): a regulariser for words never seen in training; 0 = off",
    )
    ap.add_argument(
        "--lr-min-ratio",
        type=float,
        default=0.1,
        help="the cosine ends at this fraction of --lr (1 = constant after warm-up)",
    )
    ap.add_argument(
        "--cooldown-steps",
        type=int,
        default=0,
        help="with --resume: N more steps with the LR falling linearly to 0 from where the run stands, then stop "
        "(the decay of a warmup-stable-decay schedule: a shipping candidate from a stable-phase checkpoint, "
        "trained in a copy of its run so the stable run can go on); a resumed cool-down continues its own",
    )
    ap.add_argument(
        "--init",
        default=None,
        help="exported generator dir (manifest.json): start from its (dequantised) weights; optimiser, EMA "
        "and schedule start fresh (continued training of a shipped model)",
    )
    args = ap.parse_args(argv)
    if args.train_images:
        args.steps = -(-args.train_images // args.batch_size)
    args.data = args.data.rstrip("/")

    info = init_distributed(args.device)
    dev = info.device
    seed_everything(args.seed, info.rank)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    log = RunLogger(args.out, enabled=info.is_main)
    if args.batch_size % info.world_size:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the {info.world_size} ranks")
    per_rank = args.batch_size // info.world_size
    deadline = Deadline(args.max_minutes, device=dev)

    meta_path = os.path.join(args.data, "tokens_meta.json")
    if not os.path.exists(meta_path):
        raise SystemExit(f"{meta_path} missing: run encode_tokens.py first (--data is its --out dir)")
    with open(meta_path) as f:
        meta = json.load(f)
    with open(os.path.join(args.data, "bpe.json")) as f:
        bpe = BPETokenizer.from_dict(json.load(f))
    cfg = apply_architecture_flags(args.model, preset_config(args.model, args.preset, meta), args)
    tokens, text = load_tokens(args.data, "train", dev)  # (N, HW), (N, V, Lt)
    if args.max_train_items:
        tokens, text = tokens[: args.max_train_items], text[: args.max_train_items]
    has_val = os.path.exists(os.path.join(args.data, "tokens_val.npz"))
    val_tokens, val_text = load_tokens(args.data, "val", dev) if has_val else (None, None)
    empty = torch.tensor(bpe.empty_ids(cfg.text.max_len), device=dev)  # (Lt,)
    V = text.shape[1]

    model = build_model(args.model, cfg).to(dev)
    if meta.get("prior"):
        from mmamba.text_encoder import attach_prior

        prior_path = args.prior or meta["prior"]["path"]
        attach_prior(model, prior_path, tokenizer=bpe)
        log.print(
            f"word prior {cfg.text.prior_name}: {cfg.text.prior_words} words x {cfg.text.prior_dim} from {prior_path}"
        )
    if args.prior_noise:
        from mmamba.text_encoder import set_prior_noise

        try:
            set_prior_noise(model, args.prior_noise)
        except ValueError as e:
            raise SystemExit(f"--prior-noise {args.prior_noise}: {e}") from None
        log.print(f"word prior noise {args.prior_noise} (training only)")
    if args.init:
        from mmamba.export import load_state_dict_from_manifest

        _, state = load_state_dict_from_manifest(os.path.join(args.init, "manifest.json"))
        model.load_state_dict(state, strict=True)  # raises on any config mismatch
        log.print(f"init from {args.init} ({len(state)} tensors)")
    stage_step = 0
    if args.init_stage:
        from mmamba.stage import load_stage

        man, state = load_stage(args.init_stage)
        if man.get("tokenizer") != bpe.to_dict():
            raise SystemExit(
                f"--init-stage {args.init_stage}: its tokenizer differs from {args.data}/bpe.json "
                f"(encode the tokens with the same data, seed and prior)"
            )
        own = model.state_dict()
        fresh = set()
        if args.swap_prior:
            # the word list (and so every token id) is the same; only the table's vectors and width differ, so
            # the projection from the table starts fresh and the record of the old table is dropped
            fresh = {k for k in state if k.startswith("text.word_proj.")}
            if not fresh:
                raise SystemExit(f"--swap-prior: the stage {args.init_stage} has no word prior to swap")
            state = {k: v for k, v in state.items() if k not in fresh and k != "text.prior_sha256"}
        other_shape = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
        if other_shape:
            hint = " (another word-prior table: add --swap-prior)" if "text.word_proj.weight" in other_shape else ""
            raise SystemExit(f"--init-stage {args.init_stage}: tensors of another shape: {other_shape[:5]}{hint}")
        state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k != "text.prior_sha256" and k not in fresh]  # attach_prior filled it
        if missing or unexpected:
            raise SystemExit(
                f"--init-stage {args.init_stage}: not this model: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        stage_step = int(man["extra"]["step"])
        log.print(
            f"init from stage {man['extra']['stage']} ({args.init_stage}): step {stage_step}, "
            f"{man['extra']['images']} images" + (f"; word prior swapped, {sorted(fresh)} start fresh" if fresh else "")
        )
    if args.init_trunk:
        from mmamba.export import load_state_dict_from_manifest

        _, state = load_state_dict_from_manifest(os.path.join(args.init_trunk, "manifest.json"))
        own = model.state_dict()
        trunk = {k: v for k, v in state.items() if not k.startswith("text.")}
        bad = [k for k, v in trunk.items() if k not in own or own[k].shape != v.shape]
        if bad or not trunk:
            raise SystemExit(f"--init-trunk {args.init_trunk}: tensors missing or of another shape: {bad[:5]}")
        missing = [k for k in own if not k.startswith("text.") and k not in trunk and k.endswith("weight")]
        model.load_state_dict({**own, **trunk}, strict=True)
        log.print(
            f"init trunk from {args.init_trunk}: {len(trunk)} tensors (the text encoder starts fresh)"
            + (f"; not in it: {missing[:5]}" if missing else "")
        )
    if args.grad_checkpoint:
        model.grad_checkpoint = True
    if args.scan_path:
        if args.model != "mmamba":
            raise SystemExit("--scan-path only applies to --model mmamba")
        model.set_scan_path(args.scan_path)
    n_params = sum(p.numel() for p in model.parameters())
    log.print(
        f"{args.model} {args.preset}: {n_params / 1e6:.3f}M params, train {tuple(tokens.shape)} x {V} captions, "
        f"world {info.world_size}, per-rank batch {per_rank}, device {dev}"
    )
    opt = torch.optim.AdamW(
        param_groups(model, args.weight_decay),
        lr=args.lr,
        betas=(0.9, 0.95),
        **({"fused": True} if dev.type == "cuda" else {}),
    )
    sched = CosineSchedule(
        opt, args.lr, max(args.steps, 1), warmup=args.warmup, min_ratio=args.lr_min_ratio, restart=stage_step
    )
    ema = EMA(model, args.ema) if args.ema > 0 else None
    extra = {
        "kind": args.model,
        "config": cfg.to_dict(),
        "tokenizer": bpe.to_dict(),
        "params": n_params,
        "tokens": os.path.abspath(args.data),
        "vq": meta.get("vq"),
        "args": vars(args),
    }
    step = stage_step
    auto_steps = args.steps <= 0 and not args.bench_steps
    if args.bench_steps:
        sched.total_steps = args.bench_steps + 20
    if args.resume and (ck := latest_checkpoint(args.out)):
        st = load_checkpoint(ck, model, opt, sched, ema, map_location=dev)
        step = st["step"]
        auto_steps = auto_steps and not st["extra"].get("steps_fixed")
        extra["steps_fixed"] = st["extra"].get("steps_fixed", False)
        if args.steps > 0:
            sched.total_steps = args.steps
        log.print(f"resumed from {ck} at step {step} (total {sched.total_steps})")
    if args.cooldown_steps:
        if not (args.resume and latest_checkpoint(args.out)):
            raise SystemExit("--cooldown-steps continues a run: give --resume and a --out with a checkpoint")
        if not sched.cooldown_steps:
            sched.cool(step, args.cooldown_steps)
        log.print(
            f"cool-down: LR {sched.lr_at(sched.cooldown_from):g} -> 0 over steps "
            f"{sched.cooldown_from}..{sched.cooldown_from + sched.cooldown_steps}"
        )
    if auto_steps and not args.max_minutes:
        raise SystemExit("give --steps, or --max-minutes for an automatic step count")
    if info.is_main:
        os.makedirs(args.out, exist_ok=True)
        shutil.copyfile(os.path.join(args.data, "bpe.json"), os.path.join(args.out, "bpe.json"))
        save_json(os.path.join(args.out, "config.json"), {"kind": args.model, "config": cfg.to_dict()})
    ddp = wrap_ddp(model, info)
    fwd = torch.compile(ddp) if args.compile else ddp
    batcher = EpochBatcher(tokens.shape[0], per_rank, info.rank, info.world_size, seed=args.seed)
    seq = cfg.text.max_len + cfg.grid**2

    start_step, t_last, n_last, t_ckpt = step, time.time(), step, time.time()
    t_auto0 = bench_t0 = prof = None
    while True:
        if args.bench_steps:
            # steps [10, 10 + K) are timed; on CUDA 3 more run under the profiler for the step-time breakdown
            k = step - start_step
            if k == 10:
                device_sync(dev)
                bench_t0 = time.time()
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
            if k == args.bench_steps + 10:
                device_sync(dev)
                dt = time.time() - bench_t0
                ips = args.bench_steps * args.batch_size / dt
                peak = f" peak_mem_gib={torch.cuda.max_memory_allocated(dev) / 2**30:.2f}" if dev.type == "cuda" else ""
                path = f" scan_path={model.scan_path}" if args.model == "mmamba" else ""
                log.print(
                    f"BENCH {args.model} world={info.world_size} global_batch={args.batch_size} "
                    f"steps={args.bench_steps} sec={dt:.3f} images/s={ips:.1f} "
                    f"images/s/gpu={ips / info.world_size:.1f} tokens/s={ips * seq:.0f}{peak}{path}"
                )
                if dev.type != "cuda":
                    break
                from mmamba.step_profile import start_profile

                prof = start_profile()
            if k == args.bench_steps + 13:
                from mmamba.step_profile import finish_profile, format_breakdown

                br = finish_profile(prof, 3)
                log.print("BENCH breakdown " + format_breakdown(dt * 1e3 / args.bench_steps, br))
                break
        elif (not auto_steps and step >= sched.total_steps) or sched.cooled(step):
            break
        lr = sched.apply(step)
        idx = batcher.batch(step).to(dev)  # (b,)
        tok = tokens[idx].long()  # (b, HW)
        var = torch.randint(0, V, (idx.shape[0],), device=dev)  # caption variation per item
        txt = text[idx, var].long()  # (b, Lt)
        txt = drop_text(txt, empty, p=args.text_drop)
        masked, mask = mask_for_training(tok, mask_id=cfg.mask_id)  # (b, HW), (b, HW) bool
        with autocast(dev):
            logits = fwd(masked, txt)  # (b, HW, K)
        loss = masked_token_loss(logits, tok, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        if ema is not None:
            ema.update(model, step)
        step += 1

        if auto_steps:
            auto_steps, t_auto0 = fix_auto_steps(
                step, start_step, t_auto0, deadline, dev, sched, extra, log, args.max_steps
            )

        if step % args.log_every == 0 and not args.bench_steps:
            stats = all_reduce_mean(torch.stack([loss.detach().float(), gnorm.float()])).tolist()
            now = time.time()
            ips = (step - n_last) * args.batch_size / max(now - t_last, 1e-6)
            t_last, n_last = now, step
            log.log(
                {
                    "step": step,
                    "loss": stats[0],
                    "gnorm": stats[1],
                    "lr": lr,
                    "images_s": ips,
                    "tokens_s": ips * seq,
                    "elapsed_min": deadline.elapsed() / 60,
                }
            )
        done = ((not auto_steps and step >= sched.total_steps) or sched.cooled(step)) and not args.bench_steps
        stop = deadline.should_stop() if (step % 10 == 0 or done) else False
        stop = stop or bool(args.stop_after and step - start_step >= args.stop_after)
        if has_val and not args.bench_steps and (step % args.val_every == 0 or done or stop) and info.is_main:
            rec = {"step": step, "val_loss": evaluate(model, val_tokens, val_text, cfg.mask_id, dev)}
            if ema is not None:
                backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
                model.load_state_dict({k: v.to(backup[k].dtype) for k, v in ema.shadow.items()})
                rec["val_loss_ema"] = evaluate(model, val_tokens, val_text, cfg.mask_id, dev)
                model.load_state_dict(backup)
            log.log(rec)
            extra["last_eval"] = rec
        if checkpoint_due(args, step, done, stop, t_ckpt):
            save_checkpoint(args.out, step, model, opt, sched, ema=ema, extra=extra)
            t_ckpt = time.time()
        if stop:
            log.print(f"stopping at step {step} (time budget / signal / --stop-after); resume with --resume")
            break
        if done:
            break
    if info.is_main and not args.bench_steps:
        # one record per run for ablation tables: parameters, images seen and wall time (equal-compute checks)
        save_json(
            os.path.join(args.out, "summary.json"),
            {
                "kind": args.model,
                "config": cfg.to_dict(),
                "params": n_params,
                "steps": step,
                "batch_size": args.batch_size,
                "train_images": step * args.batch_size,
                "seconds": round(deadline.elapsed(), 1),
                "images_s": (step - start_step) * args.batch_size / max(deadline.elapsed(), 1e-9),
                "last_eval": extra.get("last_eval"),
            },
        )
    finish_run(args, info, model, log, step)
    cleanup()


if __name__ == "__main__":
    main()
