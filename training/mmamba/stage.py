"""Stage checkpoints: what one GPU stage of a long campaign leaves in the repository for the next one.

A full training checkpoint (weights + AdamW moments + EMA, f32) of a 6 M-parameter generator is ~100 MB, far more
than can travel to the GPU machine with the code and data (64 MiB in all). Between stages we keep only the EMA
weights, in the export format (manifest.json + safetensors, export.py) with large 2-D weights as per-row int8, and
*without* baking the word prior: the text encoder keeps its learned word_proj, so the next stage attaches the same
frozen table and words never seen in a caption keep following the prior (an exported, baked table would freeze them).

The manifest's "extra" records where the campaign stands: {"stage", "step", "images", "source"}. The next stage
starts from these weights (model and EMA), a fresh AdamW and an LR warm-up from its first step
(CosineSchedule.restart), and continues the step count, so logs and the schedule read as one run.

A stage also exports as a browser model like a checkpoint (export.py --ckpt STAGE_DIR: prior baked, kind without
"-stage"), so an earlier stage's weights can be scored or shipped without the GPU machine's checkpoint.

CLI:  python -m mmamba.stage --ckpt RUN_DIR --out training/stages/<name> --stage K
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import torch

STAGE_KIND_SUFFIX = "-stage"  # manifest kind "<model kind>-stage": never mistaken for a browser export


def save_stage(ckpt: str, out_dir: str, stage: int, int8: bool = True, int8_min_numel: int = 16384) -> dict[str, Any]:
    """Write the EMA weights (else the model's) of a train_gen checkpoint (file or run dir) as a stage."""
    from .checkpoint import latest_checkpoint
    from .export import export_weights

    if os.path.isdir(ckpt):
        found = latest_checkpoint(ckpt)
        if found is None:
            raise FileNotFoundError(f"no ckpt-*.pt in {ckpt}")
        ckpt = found
    st = torch.load(ckpt, map_location="cpu", weights_only=True)
    extra = st.get("extra", {})
    state = dict(st["ema"]["shadow"] if st.get("ema") else st["model"])
    step = int(st["step"])
    batch = int((extra.get("args") or {}).get("batch_size", 0))
    return export_weights(
        state,
        out_dir,
        f"stage-{stage}",
        extra["kind"] + STAGE_KIND_SUFFIX,
        extra["config"],
        tokenizer=extra.get("tokenizer"),
        int8=int8,
        int8_min_numel=int8_min_numel,
        extra={
            "stage": stage,
            "step": step,
            "images": step * batch,
            "source": os.path.basename(ckpt),
            "ema": bool(st.get("ema")),
        },
    )


class NotAStageError(ValueError):
    """The directory's manifest.json is not a stage's (kind "<model kind>-stage"), or there is none."""


def load_stage(path: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(manifest, dequantised state dict) of a stage directory; refuses anything that is not a stage (NotAStageError,
    before any shard is read)."""
    from .export import load_state_dict_from_manifest

    mpath = os.path.join(path, "manifest.json")
    try:
        with open(mpath) as f:
            head = json.load(f)
    except FileNotFoundError as e:
        raise NotAStageError(f"{path}: no manifest.json, not a stage checkpoint (mmamba.stage)") from e
    except ValueError as e:
        raise NotAStageError(f"{path}: manifest.json is not JSON, not a stage checkpoint (mmamba.stage)") from e
    kind = head.get("kind") if isinstance(head, dict) else None
    if not (isinstance(kind, str) and kind.endswith(STAGE_KIND_SUFFIX)):
        raise NotAStageError(f"{path}: kind {kind!r} is not a stage checkpoint (mmamba.stage)")
    return load_state_dict_from_manifest(mpath)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="keep a training run's EMA weights as a compact stage checkpoint")
    ap.add_argument("--ckpt", required=True, help="train_gen run dir or ckpt-*.pt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--stage", type=int, required=True)
    ap.add_argument("--f16", action="store_true", help="f16 instead of per-row int8 for the large weights")
    args = ap.parse_args(argv)
    man = save_stage(args.ckpt, args.out, args.stage, int8=not args.f16)
    print(
        f"stage {args.stage}: step {man['extra']['step']}, {man['extra']['images']} images, "
        f"{man['totalBytes'] / 1e6:.2f} MB -> {args.out}"
    )


if __name__ == "__main__":
    main()
