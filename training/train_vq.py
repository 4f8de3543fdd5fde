"""Train the VQ image tokenizer (mmamba/vq.py) on the dataset's training images; 1..N GPUs via torchrun.

Loss = MSE + 0.2 * L1 (pixels in [-1, 1]) + codebook/commitment loss (VQ-VAE, beta in VQConfig).
AdamW, warmup + cosine LR, bf16 autocast on GPU, grad clipping, dead-code restart every 100 steps,
codebook renormalised after each step. Images live in GPU memory as uint8; batches are indexed there.
Logs go to stdout and <out>/log.jsonl; held-out PSNR (val split) is logged every --val-every steps
and at the end. Resumable (--resume) and time-boxed (--max-minutes).

  python training/train_vq.py --data data/packed --out training/runs/vq --max-minutes 5
  torchrun --nproc_per_node=2 training/train_vq.py --data data/packed --out training/runs/vq --max-minutes 5
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F
from mmamba.checkpoint import Deadline, latest_checkpoint, load_checkpoint, save_checkpoint
from mmamba.dist import (
    EpochBatcher,
    all_reduce_mean,
    broadcast_,
    cleanup,
    init_distributed,
    seed_everything,
    wrap_ddp,
)
from mmamba.runutil import (
    CosineSchedule,
    RunLogger,
    add_common_args,
    autocast,
    checkpoint_due,
    device_sync,
    finish_run,
    fix_auto_steps,
    load_split,
    save_json,
)
from mmamba.vq import VQConfig, VQModel, images_to_tensor, psnr


def parse(argv=None):
    ap = argparse.ArgumentParser(description="train the VQ tokenizer")
    add_common_args(ap, lr=1e-3, batch_size=128)
    ap.add_argument("--val-every", type=int, default=1000)
    ap.add_argument("--val-items", type=int, default=1024)
    ap.add_argument("--restart-every", type=int, default=100, help="dead-code restart period (0 = off)")
    ap.add_argument("--l1", type=float, default=0.2)
    ap.add_argument("--no-flip", action="store_true", help="disable random horizontal flips")
    return ap.parse_args(argv)


@torch.no_grad()
def evaluate(model: VQModel, images_u8: torch.Tensor, device: torch.device, batch: int = 128) -> dict:
    """Mean PSNR (dB) and code usage on a held-out set; images (N, S, S, 3) uint8."""
    model.eval()
    ps, used = [], torch.zeros(model.cfg.codebook_size, device=device)
    for i in range(0, images_u8.shape[0], batch):
        x = images_to_tensor(images_u8[i : i + batch].to(device))  # (b, 3, S, S)
        with autocast(device):
            recon, tokens, _, _ = model(x)
        ps.append(psnr(recon.float(), x))
        used += torch.bincount(tokens.flatten(), minlength=model.cfg.codebook_size).float()
    model.train()
    p = torch.cat(ps)
    return {
        "val_psnr": float(p.mean()),
        "val_psnr_p10": float(p.quantile(0.1)),
        "val_code_usage": float((used > 0).float().mean()),
    }


def main(argv=None) -> None:
    args = parse(argv)
    info = init_distributed(args.device)
    dev = info.device
    seed_everything(args.seed, info.rank)
    torch.backends.cudnn.benchmark = dev.type == "cuda"
    log = RunLogger(args.out, enabled=info.is_main)
    if args.batch_size % info.world_size:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the {info.world_size} ranks")
    per_rank = args.batch_size // info.world_size
    deadline = Deadline(args.max_minutes, device=dev)

    cfg = VQConfig.small() if args.preset == "small" else VQConfig.tiny()
    train_u8, _ = load_split(args.data, "train", cfg.image_size)
    if args.max_train_items:
        train_u8 = train_u8[: args.max_train_items]
    try:
        val_u8, _ = load_split(args.data, "val", cfg.image_size)
    except Exception as e:  # noqa: BLE001 -- a dataset without a val split still trains
        log.print(f"no val split ({e}); evaluating on the last 5% of train")
        cut = max(1, train_u8.shape[0] // 20)
        val_u8, train_u8 = train_u8[-cut:], train_u8[:-cut]
    val_u8 = val_u8[: args.val_items]
    train_u8 = train_u8.to(dev)  # (N, S, S, 3) uint8, all in device memory
    log.print(
        f"VQ {args.preset}: train {tuple(train_u8.shape)} val {tuple(val_u8.shape)} world {info.world_size} "
        f"per-rank batch {per_rank} device {dev}"
    )

    model = VQModel(cfg).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    log.print(f"params {model.num_params() / 1e6:.3f}M  config {cfg.to_dict()}")
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.ndim >= 2 and "codebook" not in n else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
        **({"fused": True} if dev.type == "cuda" else {}),
    )
    sched = CosineSchedule(opt, args.lr, max(args.steps, 1), warmup=args.warmup)
    extra = {"kind": "vq", "config": cfg.to_dict(), "args": vars(args)}
    step = 0
    auto_steps = args.steps <= 0 and not args.bench_steps
    if args.bench_steps:
        sched.total_steps = args.bench_steps + 20
    if args.resume and (ck := latest_checkpoint(args.out)):
        st = load_checkpoint(ck, model, opt, sched, map_location=dev)
        step = st["step"]
        auto_steps = auto_steps and not st["extra"].get("steps_fixed")
        if args.steps > 0:
            sched.total_steps = args.steps
        log.print(f"resumed from {ck} at step {step} (total {sched.total_steps})")
    if auto_steps and not args.max_minutes:
        raise SystemExit("give --steps, or --max-minutes for an automatic step count")
    if info.is_main:
        os.makedirs(args.out, exist_ok=True)
        save_json(os.path.join(args.out, "vq_config.json"), cfg.to_dict())
    ddp = wrap_ddp(model, info)
    fwd = torch.compile(ddp) if args.compile else ddp
    batcher = EpochBatcher(train_u8.shape[0], per_rank, info.rank, info.world_size, seed=args.seed)

    t_last, n_last, t_ckpt = time.time(), 0, time.time()
    t_auto0 = None
    start_step = step
    bench_t0 = None
    while True:
        if not args.bench_steps and not auto_steps and step >= sched.total_steps:
            break
        if args.bench_steps and step - start_step == 10:
            device_sync(dev)
            bench_t0 = time.time()
        if args.bench_steps and step - start_step >= args.bench_steps + 10:
            device_sync(dev)
            dt = time.time() - bench_t0
            ips = args.bench_steps * args.batch_size / dt
            log.print(
                f"BENCH vq world={info.world_size} global_batch={args.batch_size} steps={args.bench_steps} "
                f"sec={dt:.3f} images/s={ips:.1f} images/s/gpu={ips / info.world_size:.1f}"
            )
            break
        lr = sched.apply(step)
        idx = batcher.batch(step).to(dev)
        x = images_to_tensor(train_u8[idx])  # (b, 3, S, S) in [-1, 1]
        if not args.no_flip:
            flip = torch.rand(x.shape[0], device=dev) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev):
            recon, tokens, vq_loss, zn = fwd(x)
        mse = F.mse_loss(recon.float(), x)
        l1 = F.l1_loss(recon.float(), x)
        loss = mse + args.l1 * l1 + vq_loss.float()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        model.quant.normalize_codebook_()
        step += 1
        if args.restart_every and step % args.restart_every == 0 and not args.bench_steps:
            n_dead = model.quant.restart_dead_codes(zn.detach().float())
            broadcast_(model.quant.codebook.data, 0)
            broadcast_(model.quant.usage, 0)
            if n_dead and step % (args.restart_every * 10) == 0:
                log.print(f"step {step}: restarted {n_dead} dead codes")

        # Fix the step count from measured throughput (steps 10..40 of this invocation).
        if auto_steps:
            auto_steps, t_auto0 = fix_auto_steps(
                step, start_step, t_auto0, deadline, dev, sched, extra, log, args.max_steps
            )

        if step % args.log_every == 0 and not args.bench_steps:
            stats = torch.stack([loss.detach(), mse.detach(), vq_loss.detach().float(), gnorm.float()])
            stats = all_reduce_mean(stats).tolist()
            now = time.time()
            ips = (step - n_last if n_last else step - start_step) * args.batch_size / max(now - t_last, 1e-6)
            t_last, n_last = now, step
            p = 10 * torch.log10(torch.tensor(4.0 / max(stats[1], 1e-10))).item()
            used = float((model.quant.usage > 1e-3).float().mean())
            log.log(
                {
                    "step": step,
                    "loss": stats[0],
                    "mse": stats[1],
                    "train_psnr": p,
                    "vq": stats[2],
                    "gnorm": stats[3],
                    "lr": lr,
                    "images_s": ips,
                    "code_usage": used,
                    "elapsed_min": deadline.elapsed() / 60,
                }
            )
        done = step >= sched.total_steps and not auto_steps
        stop = deadline.should_stop() if (step % 10 == 0 or done) else False
        stop = stop or bool(args.stop_after and step - start_step >= args.stop_after)
        if not args.bench_steps and (step % args.val_every == 0 or done or stop) and info.is_main:
            ev = evaluate(model, val_u8, dev)
            log.log({"step": step, **ev})
            extra["last_eval"] = ev
        if checkpoint_due(args, step, done, stop, t_ckpt):
            save_checkpoint(args.out, step, model, opt, sched, extra=extra)
            t_ckpt = time.time()
        if stop:
            log.print(f"stopping at step {step} (time budget / signal); resume with --resume")
            break
        if done:
            break
    finish_run(args, info, model, log, step)
    cleanup()


if __name__ == "__main__":
    main()
