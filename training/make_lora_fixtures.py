"""LoRA gradient fixtures for the TypeScript fine-tuner (src/finetune): PyTorch autograd through a tiny golden
M-Mamba (tests/fixtures/mmamba_tiny → lora_tiny; mmamba_ffn_tiny, the slim layer with the FFN → lora_ffn_tiny;
sequential reference scan, CPU, f32) with LoRA factors on every target kind:

    W_eff = W + (alpha / rank) · B · A          2-D W (out, in): A (r, in), B (out, r)
                                                K-stacked W (K, out, in): A (K, r, in), B (K, out, r), per direction
targets: in_proj, out_proj, x_proj, dt_proj, mod (adaLN), head, text (text.proj and text.pool_proj), text_layers
(each text block's attn.qkv, attn.out, mlp.0 and mlp.2).
A and B are small seeded random values (B ≠ 0 so every path carries gradient). The loss is the base's masked
cross-entropy on its own inputs and mask. Writes tests/fixtures/<lora fixture>/{fixture.json, arrays.safetensors}:
    lora.<param>.A / .B          the factors (inputs)
    grad.lora.<param>.A / .B     d loss / d factor
    loss (1,)                    the loss with the LoRA applied
Deterministic; ~2 s.   training/.venv/bin/python training/make_lora_fixtures.py
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
from torch.func import functional_call

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from mmamba.config import config_from_dict  # noqa: E402
from mmamba.export import load_state_dict_from_manifest, safetensors_bytes  # noqa: E402
from mmamba.mmamba import MMamba  # noqa: E402
from mmamba.sampling import masked_token_loss  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
RANK, ALPHA, SEED = 2, 3.0, 1234
LAYER_PARAMS = ["in_proj.weight", "out_proj.weight", "x_proj_weight", "dt_proj_weight", "mod.proj.weight"]
TEXT_BLOCK_PARAMS = ["attn.qkv.weight", "attn.out.weight", "mlp.0.weight", "mlp.2.weight"]


def read_arrays(path: str) -> dict[str, torch.Tensor]:
    with open(path, "rb") as f:
        buf = f.read()
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8 : 8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = np.float32 if v["dtype"] == "F32" else np.int32
        out[k] = torch.from_numpy(np.frombuffer(buf[8 + n + a : 8 + n + b], dtype=dt).reshape(v["shape"]).copy())
    return out


# base fixture -> LoRA fixture folder; lora_ffn_tiny runs the same targets through the slim layer (expand 1,
# d_state 1, the FFN sublayer): its gradients reach the factors through the FFN's backward.
FIXTURE_OF = {"mmamba_tiny": "lora_tiny", "mmamba_ffn_tiny": "lora_ffn_tiny"}


def random_lora_factors(
    cfg, params: dict[str, torch.Tensor], rank: int, seed: int
) -> tuple[list[str], dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """The page's LoRA targets of an M-Mamba (every layer's projections, the head, the text side) and a random
    (A, B) pair for each, drawn in target order from one generator seeded `seed`; both factors require grad."""
    names = [f"layers.{i}.{p}" for i in range(cfg.layers) for p in LAYER_PARAMS]
    names += ["head.weight", "text.proj.weight", "text.pool_proj.weight"]
    names += [f"text.layers.{j}.{p}" for j in range(cfg.text.layers) for p in TEXT_BLOCK_PARAMS]
    g = torch.Generator().manual_seed(seed)
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for n in names:
        w = params[n]
        stack = w.shape[:-2]  # () or (K,)
        out_f, in_f = w.shape[-2], w.shape[-1]
        A = (torch.rand(*stack, rank, in_f, generator=g) * 2 - 1) / in_f**0.5
        B = (torch.rand(*stack, out_f, rank, generator=g) * 2 - 1) * 0.1
        factors[n] = (A.requires_grad_(), B.requires_grad_())
    return names, factors


def main() -> None:
    for base in FIXTURE_OF:
        write_fixture(base)


def write_fixture(base: str) -> None:
    torch.manual_seed(SEED)
    manifest, state = load_state_dict_from_manifest(os.path.join(FIXTURES, base))
    cfg = config_from_dict(manifest["config"])
    model = MMamba(cfg)
    model.load_state_dict(state)
    model.use_ref_scan = True
    model.train()
    inp = read_arrays(os.path.join(FIXTURES, base, "arrays.safetensors"))

    params = dict(model.named_parameters())
    names, factors = random_lora_factors(cfg, params, RANK, SEED)

    scale = ALPHA / RANK
    merged = {k: v.detach() for k, v in params.items()}
    for n, (A, B) in factors.items():
        merged[n] = params[n].detach() + scale * torch.matmul(B, A)  # (out, in) or batched (K, out, in)
    mask = inp["input.mask"].bool()
    logits = functional_call(model, merged, (inp["input.img_tokens"].long(), inp["input.text_ids"].long()))
    loss = masked_token_loss(logits, inp["input.targets"].long(), mask)
    loss.backward()

    arrays: list[tuple[str, np.ndarray]] = [("loss", loss.detach().view(1).numpy().astype(np.float32))]
    for n, (A, B) in factors.items():
        arrays += [
            (f"lora.{n}.A", A.detach().numpy()),
            (f"lora.{n}.B", B.detach().numpy()),
            (f"grad.lora.{n}.A", A.grad.numpy()),
            (f"grad.lora.{n}.B", B.grad.numpy()),
        ]
    arrays = [(k, np.ascontiguousarray(v, dtype=np.float32)) for k, v in arrays]
    folder = os.path.join(FIXTURES, FIXTURE_OF[base])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "arrays.safetensors"), "wb") as f:
        f.write(safetensors_bytes(arrays, {"format": "mmamba-fixture"}))
    meta = {
        "format": "mmamba-fixture",
        "formatVersion": 1,
        "kind": "lora",
        "base": base,
        "rank": RANK,
        "alpha": ALPHA,
        "params": names,
        "loss": float(loss.detach()),
        "notes": f"W_eff = W + alpha/rank·B·A on each listed param of {base}; loss = masked CE on "
        f"{base}'s input.* (reference scan, train mode); grad.lora.* = d loss / d factor.",
        "arrays": {k: {"shape": list(v.shape), "dtype": "f32"} for k, v in arrays},
    }
    with open(os.path.join(folder, "fixture.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{FIXTURE_OF[base]}: loss {float(loss.detach()):.6f}, {len(names)} adapted params -> {folder}")


if __name__ == "__main__":
    main()
