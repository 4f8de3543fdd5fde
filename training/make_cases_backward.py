"""Per-op PyTorch gradients for the WebGPU backward kernels (tests/pytorch_backward.test.ts).

Writes tests/fixtures/backward_cases.json: small random cases, each with its inputs and the gradients that
torch.autograd gives (float32, CPU) for loss = Σ dy · op(inputs), in the engine's layouts (channels-last, directions
stacked on K; see docs/kernels-ssm-vq.md). Ops use the model's own code paths (scan.selective_scan_ref, common.RMSNorm /
modulate / GEGLU, F.conv1d as MMambaLayer.mix, F.cross_entropy over masked positions).
Run: cd training && .venv/bin/python make_cases_backward.py   (deterministic, ~1 s)
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from mmamba.common import RMSNorm, modulate
from mmamba.scan import selective_scan_ref

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "backward_cases.json"


def flat(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().float().reshape(-1).tolist()]


def leaf(*shape, lo=-1.0, hi=1.0) -> torch.Tensor:
    return (torch.rand(*shape) * (hi - lo) + lo).requires_grad_(True)


def case_scan(N: int = 4, name: str = "selective_scan") -> dict:
    Bsz, K, L, di, R = 2, 2, 20, 6, 2
    S = R + 2 * N
    u = leaf(Bsz, K, L, di, lo=-2, hi=2)  # (B, K, L, di) engine layout
    delta = leaf(Bsz, K, L, di, lo=-3, hi=2)
    A_log = leaf(K, di, N, lo=-0.5, hi=float(torch.log(torch.tensor(N + 0.5))))
    xdbl = leaf(Bsz, K, L, S, lo=-1.5, hi=1.5)
    D = leaf(K, di, lo=0.5, hi=1.5)
    dt_bias = leaf(K, di, lo=-4, hi=0)
    dy = torch.rand(Bsz, K, L, di) * 2 - 1
    to_t = lambda x: x.permute(0, 1, 3, 2).reshape(Bsz, K * di, L)  # (B, K·di, L), torch layout
    Bm = xdbl[..., R : R + N].permute(0, 1, 3, 2)  # (B, K, N, L) grouped
    Cm = xdbl[..., R + N :].permute(0, 1, 3, 2)
    y = selective_scan_ref(
        to_t(u),
        to_t(delta),
        -torch.exp(A_log).reshape(K * di, N),
        Bm,
        Cm,
        D=D.reshape(K * di),
        delta_bias=dt_bias.reshape(K * di),
        delta_softplus=True,
    )
    (y * to_t(dy)).sum().backward()
    dBC = xdbl.grad.clone()
    dBC[..., :R] = 0  # the scan gives no gradient to the dt columns
    return {
        "name": name,
        "dims": {"Bsz": Bsz, "K": K, "L": L, "di": di, "N": N, "R": R},
        "inputs": {
            "u": flat(u),
            "delta": flat(delta),
            "A_log": flat(A_log),
            "xdbl": flat(xdbl),
            "D": flat(D),
            "dt_bias": flat(dt_bias),
            "dy": flat(dy),
        },
        "grads": {
            "u": flat(u.grad),
            "delta": flat(delta.grad),
            "A_log": flat(A_log.grad),
            "xdbl": flat(dBC),
            "D": flat(D.grad),
            "dt_bias": flat(dt_bias.grad),
        },
    }


def case_adaln_rmsnorm() -> dict:
    Bsz, L, d = 2, 5, 12
    x = leaf(Bsz, L, d, lo=-2, hi=3)
    mod = leaf(Bsz, 3 * d)  # packed AdaLN output [shift ; scale ; gate]
    dy = torch.rand(Bsz, L, d) * 2 - 1
    shift, scale, _gate = mod.chunk(3, dim=-1)
    y = modulate(RMSNorm(d, affine=False)(x), shift[:, None], scale[:, None])
    (y * dy).sum().backward()
    return {
        "name": "adaln_rmsnorm",
        "dims": {"Bsz": Bsz, "L": L, "D": d},
        "inputs": {"x": flat(x), "mod": flat(mod), "dy": flat(dy)},
        "grads": {"x": flat(x.grad), "mod": flat(mod.grad)},
    }


def case_layernorm() -> dict:
    Bsz, L, d = 2, 4, 10
    ln = torch.nn.LayerNorm(d)
    with torch.no_grad():
        ln.weight.uniform_(-1, 1)
        ln.bias.uniform_(-1, 1)
    x = leaf(Bsz, L, d, lo=-2, hi=3)
    dy = torch.rand(Bsz, L, d) * 2 - 1
    (ln(x) * dy).sum().backward()
    return {
        "name": "layernorm",
        "dims": {"Bsz": Bsz, "L": L, "D": d},
        "inputs": {"x": flat(x), "weight": flat(ln.weight), "bias": flat(ln.bias), "dy": flat(dy)},
        "grads": {"x": flat(x.grad), "weight": flat(ln.weight.grad), "bias": flat(ln.bias.grad)},
    }


def case_conv1d() -> dict:
    Bsz, K, L, C, W = 2, 2, 9, 5, 4
    x = leaf(Bsz, K, L, C, lo=-2, hi=2)  # (B, K, L, C) scan order
    w = leaf(K, C, W)
    b = leaf(K, C)
    dy = torch.rand(Bsz, K, L, C) * 2 - 1
    xs = x.permute(0, 1, 3, 2).reshape(Bsz, K * C, L)
    out = F.silu(F.conv1d(F.pad(xs, (W - 1, 0)), w.reshape(K * C, 1, W), b.reshape(K * C), groups=K * C))
    (out.view(Bsz, K, C, L).permute(0, 1, 3, 2) * dy).sum().backward()
    return {
        "name": "conv1d_silu",
        "dims": {"Bsz": Bsz, "K": K, "L": L, "C": C, "W": W},
        "inputs": {"x": flat(x), "w": flat(w), "b": flat(b), "dy": flat(dy)},
        "grads": {"x": flat(x.grad), "w": flat(w.grad), "b": flat(b.grad)},
    }


def case_geglu() -> dict:
    R, Fh = 6, 7
    x = leaf(R, 2 * Fh, lo=-4, hi=4)
    dy = torch.rand(R, Fh) * 2 - 1
    a, g = x.chunk(2, dim=-1)
    ((F.gelu(a, approximate="tanh") * g) * dy).sum().backward()
    return {
        "name": "geglu",
        "dims": {"R": R, "F": Fh},
        "inputs": {"x": flat(x), "dy": flat(dy)},
        "grads": {"x": flat(x.grad)},
    }


def case_linear() -> dict:
    rows, Kd, Nd = 7, 9, 5
    x = leaf(rows, Kd)
    w = leaf(Nd, Kd)
    b = leaf(Nd)
    dy = torch.rand(rows, Nd) * 2 - 1
    (F.linear(x, w, b) * dy).sum().backward()
    return {
        "name": "linear",
        "dims": {"rows": rows, "K": Kd, "N": Nd},
        "inputs": {"x": flat(x), "w": flat(w), "b": flat(b), "dy": flat(dy)},
        "grads": {"x": flat(x.grad), "w": flat(w.grad), "b": flat(b.grad)},
    }


def case_cross_entropy() -> dict:
    R, V = 12, 17
    logits = leaf(R, V, lo=-5, hi=5)
    targets = torch.randint(0, V, (R,))
    mask = torch.rand(R) < 0.5
    mask[0] = True
    loss = F.cross_entropy(logits[mask], targets[mask])
    loss.backward()
    return {
        "name": "cross_entropy",
        "dims": {"R": R, "V": V},
        "inputs": {"logits": flat(logits), "targets": targets.tolist(), "mask": mask.int().tolist()},
        "grads": {"logits": flat(logits.grad)},
        "loss": float(loss.detach()),
    }


def main() -> None:
    torch.manual_seed(0)
    cases = [
        case_scan(),
        case_adaln_rmsnorm(),
        case_layernorm(),
        case_conv1d(),
        case_geglu(),
        case_linear(),
        case_cross_entropy(),
        case_scan(N=1, name="selective_scan_n1"),
    ]  # d_state 1 (a slim model); last, so the others keep their draws
    OUT.write_text(json.dumps({"format": "mmamba-backward-cases", "formatVersion": 1, "cases": cases}))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
