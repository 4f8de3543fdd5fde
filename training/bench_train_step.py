"""Training-step throughput of M-Mamba S (scan paths 'split' and 'fused') and UViT S side by side, in one process,
on synthetic token data (no dataset): the same step as train_gen.py (masked-token objective, text drop, bf16
autocast, fused AdamW, grad clipping), at one batch size.

Variants: `uvit`, `mmamba:split`, `mmamba:fused`, each optionally `+compile` (torch.compile of the model; a variant
that fails to compile is reported and skipped) and `@key=value,...` config overrides of the preset (ints, floats and
bools parsed by the config field's type, bools as 0/1/true/false; `d` re-derives dt_rank), e.g.
`mmamba:split@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6` or `mmamba:split+compile@d_state=1`. In --variants the
overrides' commas stay with their variant (a `key=value` item continues the one before it). A spec may end with
`~NAME=value` items (several allowed): environment variables set while that variant runs (its warm-up, steps and
profile) and restored after, for A/B of kernels chosen at call time in one interleaved run, e.g.
`mmamba:split+compile@layers=6~MMAMBA_CONV_BWD_WARPS=4,mmamba:split+compile@layers=6~MMAMBA_CONV_BWD_WARPS=8`.
Only variables read when a kernel runs (MMAMBA_CONV_BWD_WARPS) or when the model is built (MMAMBA_CONV_PATH, a
layer attribute that dynamo guards) are safe for that under +compile:
one read while tracing (MMAMBA_SPLIT_BWD, MMAMBA_SCAN_*) may be baked into a graph that dynamo reuses for a later
variant of the same model config, so compiled variants of one spec that differ in those are refused (exit with a
message): time them in one process each, e.g. `env MMAMBA_SPLIT_BWD=scratch python bench_train_step.py ...`
(training/gpu/speed.sh's step 4b). Without +compile they are read on every call, and an interleaved A/B such as
`mmamba:split@d_state=1~MMAMBA_SPLIT_BWD=scratch,mmamba:split@d_state=1~MMAMBA_SPLIT_BWD=registers` is fine.
The table's label is the whole spec, overrides and env items included, with each variant's parameter count. Timing
is interleaved: `--rounds` rounds, in each every variant runs `--steps` timed steps after its warm-up; ms/step is
reported as the median and min over rounds. Then, per variant: peak memory of a step (torch.cuda.max_memory_allocated
after a reset, minus what was allocated before) and the step's breakdown (mmamba/step_profile.py: mixer kernels
forward / backward against the rest).

Usage (from training/ or the repository root; CUDA only):
  python training/bench_train_step.py [--batch 256] [--variants uvit,mmamba:split,mmamba:fused] [--compile]
      [--steps 10] [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mmamba import config as C  # noqa: E402
from mmamba.runutil import autocast  # noqa: E402
from mmamba.sampling import drop_text, mask_for_training, masked_token_loss  # noqa: E402
from mmamba.step_profile import format_breakdown, mixer_breakdown  # noqa: E402


def param_groups(model: torch.nn.Module, wd: float = 0.01):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        skip = p.ndim < 2 or "emb" in n or n.endswith("A_log") or n.endswith(".D") or "norm" in n
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def split_variants(text: str) -> list[str]:
    """The --variants list: comma-separated specs, where an item `key=value` (no kind) continues the spec before it
    (its overrides), so `uvit,mmamba:split@d_state=1,layers=6` is two variants."""
    specs: list[str] = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        if specs and "=" in item.split("+")[0] and not item.startswith(("uvit", "mmamba")):
            specs[-1] += "," + item
        else:
            specs.append(item)
    return specs


def split_env(spec: str) -> tuple[str, dict]:
    """`spec~NAME=value~...` -> (spec without the env items, {NAME: value}); names must be MMAMBA_* variables."""
    spec, *items = spec.split("~")
    env = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.startswith("MMAMBA_"):
            raise SystemExit(f"bad env item {item!r}: use ~MMAMBA_NAME=value")
        env[name] = value
    return spec, env


TRACED_ENV = ("MMAMBA_SPLIT_BWD", "MMAMBA_SCAN_")  # names (prefixes) the scan reads while dynamo traces


def check_traced_env(specs: list[str]) -> None:
    """Exit when two +compile variants of the same spec differ in an env item read while tracing (TRACED_ENV):
    dynamo would reuse the first one's graph, kernel choice included, for the second."""
    seen: dict[str, dict] = {}
    for spec in specs:
        base, env = split_env(spec)
        if parse_spec(base)[2] != "compile":
            continue
        traced = {k: v for k, v in env.items() if k.startswith(TRACED_ENV)}
        if base in seen and seen[base] != traced:
            raise SystemExit(
                f"{spec!r}: compiled variants of {base!r} differ in {sorted(set(seen[base]) | set(traced))}, which are "
                f"read while tracing, so the second would reuse the first's graph; run one process per value"
            )
        seen.setdefault(base, traced)


class env_set:
    """Context: os.environ with `env` applied, restored on exit (unset names are removed again)."""

    def __init__(self, env: dict):
        self.env, self.old = env, {}

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)

    def __exit__(self, *exc):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def with_compile(spec: str) -> str:
    """The +compile twin of a spec (the flag goes before the overrides; env items stay at the end)."""
    base, sep, env = spec.partition("~")
    base = base.replace("@", "+compile@", 1) if "@" in base else base + "+compile"
    return base + sep + env


def parse_spec(spec: str) -> tuple[str, str, str, dict]:
    """`kind[:path][+compile][@key=value,...]` (the +compile may also end the overrides) ->
    (kind, path, flags, overrides as strings)."""
    head, _, over = spec.partition("@")
    if over.endswith("+compile"):
        over, head = over[: -len("+compile")], head + "+compile"
    name, _, flags = head.partition("+")
    kind, _, path = name.partition(":")
    overrides = {}
    for item in filter(None, over.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SystemExit(f"bad override {item!r} in {spec!r}: use key=value")
        overrides[key.strip()] = value.strip()
    if kind not in ("mmamba", "uvit") or (kind == "mmamba") != bool(path) or flags not in ("", "compile"):
        raise SystemExit(
            f"bad variant {spec!r}: use uvit, mmamba:split or mmamba:fused, optionally +compile and "
            f"@key=value,... overrides"
        )
    return kind, path, flags, overrides


def with_overrides(cfg, overrides: dict):
    """cfg with each override parsed by its field's current type (bool: 0/1/true/false); unknown keys exit."""
    names = {f.name for f in dataclasses.fields(cfg)}
    parsed = {}
    for key, value in overrides.items():
        if key not in names or key == "text":
            raise SystemExit(f"unknown config field {key!r} for {type(cfg).__name__}")
        kind = type(getattr(cfg, key))
        if kind is bool:
            if value.lower() not in ("0", "1", "true", "false"):
                raise SystemExit(f"{key} must be 0/1/true/false, got {value!r}")
            parsed[key] = value.lower() in ("1", "true")
        else:
            parsed[key] = kind(value)
    if "d" in parsed and "dt_rank" in names and "dt_rank" not in parsed:
        parsed["dt_rank"] = None  # re-derived from the new d (ceil(d / 16))
    return dataclasses.replace(cfg, **parsed)


class Variant:
    """One model + optimiser + synthetic batch source; `step()` is one training step."""

    def __init__(self, spec: str, batch: int, dev: torch.device, preset: str = "small", seed: int = 0):
        self.spec = spec
        spec, self.env = split_env(spec)
        kind, path, flags, overrides = parse_spec(spec)
        torch.manual_seed(seed)
        self.cfg = {
            ("mmamba", "small"): C.small_mmamba,
            ("uvit", "small"): C.small_uvit,
            ("mmamba", "tiny"): C.tiny_mmamba,
            ("uvit", "tiny"): C.tiny_uvit,
        }[(kind, preset)]()
        self.cfg = with_overrides(self.cfg, overrides)
        if kind == "mmamba":
            from mmamba.mmamba import MMamba

            with env_set(self.env):  # read when a layer is built: MMAMBA_CONV_PATH
                self.model = MMamba(self.cfg).to(dev)
            self.model.set_scan_path(path)
        else:
            from mmamba.uvit import UViT

            self.model = UViT(self.cfg).to(dev)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.fwd = torch.compile(self.model) if flags == "compile" else self.model
        self.opt = torch.optim.AdamW(
            param_groups(self.model), lr=1e-4, betas=(0.9, 0.95), **({"fused": True} if dev.type == "cuda" else {})
        )
        self.batch, self.dev = batch, dev
        self.g = torch.Generator(device=dev).manual_seed(seed)
        self.empty = torch.zeros(self.cfg.text.max_len, dtype=torch.long, device=dev)

    def step(self) -> None:
        with env_set(self.env):
            self._step()

    def _step(self) -> None:
        cfg, B = self.cfg, self.batch
        tok = torch.randint(0, cfg.codebook_size, (B, cfg.grid**2), device=self.dev, generator=self.g)
        txt = torch.randint(1, cfg.text.vocab_size, (B, cfg.text.max_len), device=self.dev, generator=self.g)
        txt = drop_text(txt, self.empty, p=0.1, generator=self.g)
        masked, mask = mask_for_training(tok, generator=self.g, mask_id=cfg.mask_id)
        with autocast(self.dev):
            logits = self.fwd(masked, txt)
        loss = masked_token_loss(logits, tok, mask)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def time_steps(v: Variant, steps: int) -> float:
    sync(v.dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        v.step()
    sync(v.dev)
    return (time.perf_counter() - t0) * 1e3 / steps


def peak_step_mib(v: Variant) -> float:
    if v.dev.type != "cuda":
        return float("nan")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    v.step()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--variants", default="uvit,mmamba:split,mmamba:fused")
    ap.add_argument("--compile", action="store_true", help="also each variant with +compile")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-profile", action="store_true", help="skip the kernel breakdown")
    ap.add_argument("--json", default=None)
    ap.add_argument("--device", default="cuda", help="cuda (the measurement) or cpu (a smoke test, with --preset tiny)")
    ap.add_argument("--preset", default="small", choices=["small", "tiny"])
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available (use --device cpu --preset tiny for a smoke test)")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    specs = split_variants(args.variants)
    if args.compile:
        specs += [with_compile(s) for s in specs if "+" not in s.partition("~")[0]]
    check_traced_env(specs)
    gpu = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    env = " ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MMAMBA_")) or "(none)"
    print(
        f"torch {torch.__version__}, {gpu}, preset {args.preset}, batch {args.batch}, bf16 autocast on CUDA; env {env}",
        flush=True,
    )
    variants = []
    for spec in specs:
        try:
            v = Variant(spec, args.batch, dev, args.preset)
            t0 = time.perf_counter()
            for _ in range(args.warmup):
                v.step()
            sync(dev)
            print(f"{spec}: {v.params / 1e6:.3f} M params, warm-up {time.perf_counter() - t0:.1f} s", flush=True)
            variants.append(v)
        except Exception as e:  # e.g. a compile failure: report, keep the others
            print(f"{spec}: FAILED in warm-up: {type(e).__name__}: {str(e)[:400]}", flush=True)
            traceback.print_exc(limit=3)
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    for v in variants:  # untimed: a recompile that a later variant's guards trigger happens here, not in round 0
        v.step()
    sync(dev)
    times = {v.spec: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            times[v.spec].append(time_steps(v, args.steps))
        print(f"round {r}: " + ", ".join(f"{s} {t[-1]:.2f} ms" for s, t in times.items()), flush=True)
    rows = []
    print(
        "\n| variant | params (M) | ms/step (median) | ms/step (min) | images/s (median) | peak step memory | "
        "breakdown |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for v in variants:
        med, mn = statistics.median(times[v.spec]), min(times[v.spec])
        peak = peak_step_mib(v)
        br = None if args.no_profile or dev.type != "cuda" else mixer_breakdown(v.step, steps=3)
        row = {
            "variant": v.spec,
            "params": v.params,
            "batch": args.batch,
            "ms_median": med,
            "ms_min": mn,
            "images_s": args.batch * 1e3 / med,
            "peak_mib": peak,
            "breakdown": br,
        }
        rows.append(row)
        print(
            f"| {v.spec} | {v.params / 1e6:.3f} | {med:.2f} | {mn:.2f} | {row['images_s']:.0f} | {peak:.0f} MiB | "
            f"{format_breakdown(med, br) if br else '-'} |",
            flush=True,
        )
    for row in rows:
        if row["breakdown"]:
            print(f"\ntop kernels, {row['variant']} (ms per step):")
            for name, ms in row["breakdown"]["top"]:
                print(f"  {ms:8.3f}  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
