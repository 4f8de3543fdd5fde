"""The staged recipes' chain for the UViT baseline (training/recipes/uvit-m.sh runs stages.sh with --model uvit): a
UViT run kept as a stage (mmamba/stage.py), a later run that starts from it with --init-stage (the step count
continues, the weights are the stage's), and the candidate export with the word prior baked in, which the ruler's
tools load (sample_grid.load_generator) as a UViT giving the run's own logits. Tiny sizes, CPU, seconds."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from test_checkpoint import COMMON, _final  # noqa: E402
from test_prior_pipeline import _prior_file  # noqa: E402


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    import encode_tokens
    import train_vq

    tmp = tmp_path_factory.mktemp("stage_uvit")
    vq, tok = str(tmp / "vq"), str(tmp / "tok")
    prior = _prior_file(str(tmp / "tiny_prior.npz"))
    train_vq.main(["--data", "synthetic:40", "--steps", "2", "--out", vq] + COMMON)
    encode_tokens.main(
        ["--data", "synthetic:40", "--vq", vq, "--out", tok, "--vocab-size", "280", "--text-len", "6"]
        + ["--device", "cpu", "--caption-variants", "2", "--prior", prior]
    )
    return tmp, tok, prior


def test_uvit_stage_continue_and_candidate(tokens):
    import train_gen
    from mmamba.export import export_checkpoint
    from mmamba.stage import load_stage, save_stage
    from mmamba.text_encoder import attach_prior
    from mmamba.uvit import UViT
    from sample_grid import load_generator

    tmp, tok, prior = tokens
    base = ["--model", "uvit", "--data", tok, "--val-every", "100", "--lr-min-ratio", "1"] + COMMON
    run1, run2 = str(tmp / "run1"), str(tmp / "run2")
    train_gen.main(base + ["--out", run1, "--steps", "5", "--warmup", "4"])
    man = save_stage(run1, str(tmp / "stage1"), stage=1)
    assert man["kind"] == "uvit-stage" and man["extra"]["step"] == 5 and man["extra"]["images"] == 5 * 8
    assert man["config"]["arch"] == "uvit" and man["config"]["text"]["prior_words"] > 0, "prior kept unbaked"
    _, state = load_stage(str(tmp / "stage1"))
    ema1 = _final(run1)["ema"]["shadow"]
    for k, v in ema1.items():
        if v.dtype.is_floating_point and k in state:
            assert torch.allclose(state[k].float(), v.float(), atol=1e-3 * max(1.0, float(v.abs().max()))), k

    # lr 0 after the stage: the run's weights stay the stage's, so a run that did not start from it is caught
    train_gen.main(
        base + ["--out", run2, "--steps", "8", "--warmup", "2", "--lr", "0", "--init-stage", str(tmp / "stage1")]
    )
    st2 = _final(run2)
    assert st2["step"] == 8 and st2["scheduler"]["restart"] == 5, "the step count continues from the stage"
    moved = [
        k
        for k, v in state.items()
        if k in st2["model"] and k != "text.prior_sha256"
        if not torch.allclose(st2["model"][k].float(), v.float(), atol=1e-6)
    ]
    assert not moved and len(state) > 10, f"run 2 did not start from the stage's weights: {moved[:5]}"

    # the candidate (prior baked, as stages.sh's save_stage exports it) is a UViT with the run's logits
    exp = str(tmp / "candidate")
    m = export_checkpoint(run2, exp, "uvit-m", int8=True, dtype="f32", prior=prior)
    assert m["kind"] == "uvit" and m["config"]["text"]["prior_words"] == 0
    model, bpe = load_generator(exp, torch.device("cpu"))
    assert isinstance(model, UViT)
    from mmamba.config import config_from_dict

    ref = UViT(config_from_dict(st2["extra"]["config"]))
    attach_prior(ref, prior)
    ref.load_state_dict({**ref.state_dict(), **st2["ema"]["shadow"]})
    ref.eval()
    g = torch.Generator().manual_seed(0)
    cfg = model.cfg
    img = torch.randint(0, cfg.codebook_size + 1, (2, cfg.grid**2), generator=g)
    txt = bpe.encode_batch(["a red circle", "blue"])
    with torch.no_grad():
        a, b = model(img, txt), ref(img, txt)
    assert torch.allclose(a, b, atol=1e-4), float((a - b).abs().max())
