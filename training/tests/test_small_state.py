"""The CPU paths of the training kernels at a one-dimensional state (d_state = 1) and expand 1, the slim layer a next
model may use (VMamba-v3 style, with the GEGLU FFN sublayer):
- selective_scan_fast (the chunked CPU scan) vs selective_scan_ref, forward and every gradient, grouped and not;
- scan_merge_manual (the fused kernel's hand-written backward, in PyTorch) vs autograd of scan_merge_ref;
- the whole slim MMamba on its default CPU path (chunked scan, unfused conv) vs the sequential reference scan:
  logits and every parameter gradient.
Seeds are fixed per case; tolerances as test_scan.py / test_scan_merge.py (normalised max error).
"""

import pytest
import torch
from mmamba.config import tiny_mmamba
from mmamba.mmamba import MMamba
from mmamba.sampling import masked_token_loss
from mmamba.scan import scan_merge_manual, scan_merge_ref, selective_scan_fast, selective_scan_ref


def nerr(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1.0)).item()


# (Bsz, di, L, G), seed: N = 1 throughout; G = 0 ungrouped B/C (B, 1, L), else grouped (B, G, 1, L)
SCAN_CASES = [((1, 3, 1, 0), 1), ((2, 4, 21, 0), 2), ((2, 6, 37, 2), 3), ((1, 8, 40, 4), 4)]


@pytest.mark.parametrize("case", SCAN_CASES, ids=lambda c: f"shape{c[0]}-seed{c[1]}")
@pytest.mark.parametrize("dtype,tol_f,tol_g", [(torch.float64, 1e-9, 1e-9), (torch.float32, 2e-5, 1e-4)])
def test_chunked_scan_matches_ref_at_state_1(case, dtype, tol_f, tol_g):
    (Bsz, di, L, G), seed = case
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    bc = (Bsz, 1, L) if G == 0 else (Bsz, G, 1, L)
    ins = [
        r(Bsz, di, L),
        r(Bsz, di, L) * 0.5 - 1.0,
        -torch.exp(r(di, 1) * 0.5),
        r(*bc),
        r(*bc),
        r(di),
        r(Bsz, di, L),
        r(di) * 0.5,
    ]
    ins = [t.requires_grad_() for t in ins]
    u, delta, A, Bm, Cm, D, z, bias = ins
    kw = dict(D=D, z=z, delta_bias=bias, delta_softplus=True)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, **kw)
    y_fast = selective_scan_fast(u, delta, A, Bm, Cm, **kw)
    assert y_fast.shape == (Bsz, di, L)
    assert nerr(y_fast, y_ref) < tol_f
    gy = torch.randn(y_ref.shape, generator=g, dtype=dtype)
    for name, gr, gf in zip(
        "u delta A B C D z bias".split(), torch.autograd.grad(y_ref, ins, gy), torch.autograd.grad(y_fast, ins, gy)
    ):
        assert gf.shape == gr.shape and torch.isfinite(gf).all(), name
        assert nerr(gf, gr) < tol_g, name


@pytest.mark.parametrize("shape", [(1, 1, 1, 2), (2, 4, 17, 3), (1, 2, 40, 5)])
def test_manual_merge_backward_at_state_1(shape):
    Bsz, K, L, di = shape
    g = torch.Generator().manual_seed(L + K)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    ins = [
        r(Bsz, K, L, di),
        r(Bsz, K, L, di) * 0.5 - 1.0,
        -torch.exp(r(K * di, 1) * 0.5),
        r(Bsz, K, L, 1),
        r(Bsz, K, L, 1),
        r(K * di),
        r(K * di) * 0.5,
    ]
    perm = torch.stack([torch.randperm(L, generator=g) for _ in range(K)])
    gY = r(Bsz, L, di)

    def grads(fn):
        leaves = [t.detach().clone().requires_grad_() for t in ins]
        u, dt, A, Bm, Cm, D, bias = leaves
        Y = fn(u, dt, A, Bm, Cm, D, perm, delta_bias=bias)
        return Y, torch.autograd.grad(Y, leaves, gY)

    Y_ref, g_ref = grads(scan_merge_ref)
    Y_man, g_man = grads(scan_merge_manual)
    assert nerr(Y_man, Y_ref) < 1e-10
    for name, gm, gr in zip("u dt A B C D bias".split(), g_man, g_ref):
        assert gm.shape == gr.shape and nerr(gm, gr) < 1e-10, name


def test_slim_model_cpu_path_matches_reference():
    cfg = tiny_mmamba(expand=1, d_state=1, ffn=True, pos_emb=True)
    assert cfg.d_inner == cfg.d
    torch.manual_seed(31)
    model = MMamba(cfg)
    with torch.no_grad():  # wake the adaLN-Zero gates
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    g = torch.Generator().manual_seed(32)
    B, Lt, HW = 2, cfg.text.max_len, cfg.hw
    text = torch.randint(3, cfg.text.vocab_size, (B, Lt), generator=g)
    targets = torch.randint(0, cfg.codebook_size, (B, HW), generator=g)
    mask = torch.rand(B, HW, generator=g) < 0.5
    mask[:, 0] = True
    img = torch.where(mask, torch.full_like(targets, cfg.mask_id), targets)

    def run(use_ref):
        model.zero_grad()
        logits = model(img, text, use_ref_scan=use_ref)
        masked_token_loss(logits, targets, mask).backward()
        return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    logits_ref, g_ref = run(True)
    logits_cpu, g_cpu = run(False)
    assert nerr(logits_cpu, logits_ref) < 2e-5
    assert any(n.endswith("ffn.w_in.weight") for n in g_ref)
    for n, gr in g_ref.items():
        assert torch.isfinite(g_cpu[n]).all(), n
        assert nerr(g_cpu[n], gr) < 1e-4, n
