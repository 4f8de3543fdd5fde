"""Stage checkpoints (mmamba/stage.py): a run's EMA weights kept compactly (int8 rows, prior not baked) and a later
run that starts from them with --init-stage: same weights (within the int8 step), the step count continues, the LR
warms up again from there, and a stage of another tokenizer or model is refused; the same chain for a UViT (the
staged baseline of uvit-m.sh) with its baked-prior candidate."""

import json
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

    tmp = tmp_path_factory.mktemp("stage")
    vq, tok = str(tmp / "vq"), str(tmp / "tok")
    prior = _prior_file(str(tmp / "tiny_prior.npz"))
    train_vq.main(["--data", "synthetic:40", "--steps", "2", "--out", vq] + COMMON)
    encode_tokens.main(
        [
            "--data",
            "synthetic:40",
            "--vq",
            vq,
            "--out",
            tok,
            "--vocab-size",
            "280",
            "--text-len",
            "6",
            "--device",
            "cpu",
            "--caption-variants",
            "2",
            "--prior",
            prior,
        ]
    )
    return tmp, tok


def test_stage_roundtrip_and_continue(tokens):
    import train_gen
    from mmamba.runutil import CosineSchedule
    from mmamba.stage import load_stage, save_stage

    tmp, tok = tokens
    base = ["--model", "mmamba", "--data", tok, "--val-every", "100", "--lr-min-ratio", "1", "--warmup", "4"] + COMMON
    run1 = str(tmp / "run1")
    train_gen.main(base + ["--out", run1, "--steps", "5"])
    st = _final(run1)
    man = save_stage(run1, str(tmp / "stage1"), stage=1, int8=True)
    assert man["extra"]["step"] == 5 and man["extra"]["images"] == 5 * 8 and man["kind"] == "mmamba-stage"
    assert man["config"]["text"]["prior_words"] > 0, "a stage keeps the prior unbaked"
    _, state = load_stage(str(tmp / "stage1"))
    assert "text.word_proj.weight" in state and "text.word_vectors" not in state
    for k, v in st["ema"]["shadow"].items():
        if v.dtype.is_floating_point and k in state:
            ref = v.float()
            tol = 1e-3 * max(1.0, float(ref.abs().max()))  # f16 (tiny tensors) rounding
            assert torch.allclose(state[k].float(), ref, atol=tol), k

    run2 = str(tmp / "run2")
    train_gen.main(base + ["--out", run2, "--steps", "8", "--init-stage", str(tmp / "stage1")])
    st2 = _final(run2)
    assert st2["step"] == 8, "the step count continues from the stage"
    assert st2["scheduler"]["restart"] == 5
    from mmamba.config import config_from_dict
    from mmamba.mmamba import MMamba

    torch.manual_seed(0)
    fresh = MMamba(config_from_dict(man["config"])).state_dict()
    far = sum(float((fresh[k].float() - state[k]).norm()) for k in state if k in fresh)
    near = sum(float((st2["model"][k].float() - state[k]).norm()) for k in state if k in st2["model"])
    assert near < 0.5 * far, ("run 2 did not start from the stage's weights", near, far)
    sched = CosineSchedule(None, 1.0, 100, warmup=4, min_ratio=1.0, restart=5)
    assert [sched.lr_at(s) for s in (5, 6, 7, 8, 50)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0]), (
        "warm-up restarts at the stage, then the constant LR"
    )
    assert CosineSchedule(None, 1.0, 100, warmup=4, min_ratio=0.1).lr_at(2) == pytest.approx(0.75)  # no restart


def test_cooldown_decays_to_zero_and_stops(tokens):
    """--cooldown-steps: a copy of a stable run goes on for exactly N steps, the LR falling linearly to 0 from the
    stable LR, then stops with a final checkpoint; the stable run itself is untouched, and a cool-down without a
    checkpoint to continue is refused."""
    import shutil

    import train_gen
    from mmamba.runutil import CosineSchedule

    tmp, tok = tokens
    base = ["--model", "mmamba", "--data", tok, "--val-every", "100", "--lr-min-ratio", "1", "--warmup", "2"]
    base += COMMON + ["--lr", "1e-3", "--log-every", "1"]
    stable, cool = str(tmp / "stable"), str(tmp / "cool")
    train_gen.main(base + ["--out", stable, "--steps", "1000", "--stop-after", "4"])
    shutil.copytree(stable, cool)
    train_gen.main(base + ["--out", cool, "--steps", "1000", "--resume", "--cooldown-steps", "4"])
    st = _final(cool)
    assert st["step"] == 8, ("the cool-down runs exactly its steps", st["step"])
    assert (st["scheduler"]["cooldown_from"], st["scheduler"]["cooldown_steps"]) == (4, 4)
    lrs = [json.loads(line)["lr"] for line in open(os.path.join(cool, "log.jsonl")) if '"lr"' in line]
    assert lrs[-1] == pytest.approx(1e-3 * 0.25), ("the last step runs at 1/N of the stable LR", lrs)
    assert _final(stable)["step"] == 4, "the stable run is left as it was"

    sched = CosineSchedule(None, 2.0, 100, warmup=2, min_ratio=1.0)
    sched.cool(10, 4)
    assert [sched.lr_at(s) for s in (9, 10, 11, 13, 14)] == pytest.approx([2.0, 2.0, 1.5, 0.5, 0.0])
    assert not sched.cooled(13) and sched.cooled(14)
    again = CosineSchedule(None, 2.0, 100)
    again.load_state_dict(sched.state_dict())
    assert again.lr_at(12) == pytest.approx(1.0), "a resumed cool-down keeps its own start and length"
    with pytest.raises(SystemExit, match="continues a run"):
        train_gen.main(base + ["--out", str(tmp / "none"), "--steps", "10", "--cooldown-steps", "4"])


def test_stage_refuses_other_tokenizer_and_non_stage(tokens, tmp_path):
    import train_gen
    from mmamba.stage import load_stage

    tmp, tok = tokens
    stage = str(tmp / "stage1")
    if not os.path.exists(os.path.join(stage, "manifest.json")):
        pytest.skip("needs test_stage_roundtrip_and_continue's stage")
    other = tmp_path / "tok2"
    os.makedirs(other)
    for f in os.listdir(tok):
        data = open(os.path.join(tok, f), "rb").read()
        open(other / f, "wb").write(data)
    bpe = json.load(open(other / "bpe.json"))
    bpe["max_len"] += 1
    json.dump(bpe, open(other / "bpe.json", "w"))
    with pytest.raises(SystemExit, match="tokenizer differs"):
        train_gen.main(
            [
                "--model",
                "mmamba",
                "--data",
                str(other),
                "--steps",
                "7",
                "--out",
                str(tmp_path / "r"),
                "--init-stage",
                stage,
            ]
            + COMMON
        )
    man = json.load(open(os.path.join(stage, "manifest.json")))
    man["kind"] = "mmamba"
    bad = tmp_path / "notstage"
    os.makedirs(bad)
    for f in os.listdir(stage):
        open(bad / f, "wb").write(open(os.path.join(stage, f), "rb").read())
    json.dump(man, open(bad / "manifest.json", "w"))
    with pytest.raises(ValueError, match="not a stage"):
        load_stage(str(bad))


def test_stage_swaps_word_prior(tokens, tmp_path):
    """A stage trained with one word-prior table continues with another over the same words (GloVe -> MiniLM):
    refused without --swap-prior (clear message), and with it every tensor but text.word_proj starts from the stage."""
    import encode_tokens
    import numpy as np
    import train_gen
    from mmamba.stage import load_stage

    tmp, _ = tokens
    stage = str(tmp / "stage1")
    if not os.path.exists(os.path.join(stage, "manifest.json")):
        pytest.skip("needs test_stage_roundtrip_and_continue's stage")
    a = np.load(str(tmp / "tiny_prior.npz"))
    wider = str(tmp_path / "wider_prior.npz")  # the same words, other vectors, another width (8 -> 12)
    rng = np.random.default_rng(11)
    np.savez_compressed(wider, words=a["words"], vectors=rng.standard_normal((len(a["words"]), 12)).astype(np.float16))
    tok2 = str(tmp_path / "tok_wider")
    encode_tokens.main(
        ["--data", "synthetic:40", "--vq", str(tmp / "vq"), "--out", tok2, "--vocab-size", "280", "--text-len", "6"]
        + ["--device", "cpu", "--caption-variants", "2", "--prior", wider]
    )
    base = ["--model", "mmamba", "--data", tok2, "--val-every", "100", "--lr", "0", "--warmup", "1"] + COMMON
    with pytest.raises(SystemExit, match="add --swap-prior"):
        train_gen.main(base + ["--out", str(tmp_path / "r0"), "--steps", "6", "--init-stage", stage])
    run = str(tmp_path / "r1")
    train_gen.main(base + ["--out", run, "--steps", "6", "--init-stage", stage, "--swap-prior"])
    st = _final(run)
    _, old = load_stage(stage)
    assert st["model"]["text.word_proj.weight"].shape[1] == 12, "word_proj is built for the new table"
    moved = [
        k
        for k, v in old.items()
        if k in st["model"] and not k.startswith("text.word_proj.") and k != "text.prior_sha256"
        if not torch.allclose(st["model"][k].float(), v.float(), atol=1e-3 * max(1.0, float(v.abs().max())))
    ]
    assert not moved, f"with lr 0 every other tensor must equal the stage's: {moved[:5]}"
    assert not torch.equal(st["model"]["text.prior_sha256"], old["text.prior_sha256"].to(torch.uint8)), (
        "the new table's sha256 is recorded"
    )


def test_uvit_stage_continue_and_candidate(tokens, tmp_path):
    """The staged recipes' chain for the UViT baseline (uvit-m.sh): a UViT run kept as a stage, a later run that starts
    from it with --init-stage (the step count continues, the weights are the stage's), and the candidate export with
    the word prior baked in, which the ruler's tools load (sample_grid.load_generator) as a UViT giving the run's own
    logits."""
    import train_gen
    from mmamba.export import export_checkpoint
    from mmamba.stage import load_stage, save_stage
    from mmamba.text_encoder import attach_prior
    from mmamba.uvit import UViT
    from sample_grid import load_generator

    tmp, tok = tokens
    prior = str(tmp / "tiny_prior.npz")
    base = ["--model", "uvit", "--data", tok, "--val-every", "100", "--lr-min-ratio", "1"] + COMMON
    run1, run2 = str(tmp_path / "run1"), str(tmp_path / "run2")
    train_gen.main(base + ["--out", run1, "--steps", "5", "--warmup", "4"])
    man = save_stage(run1, str(tmp_path / "stage1"), stage=1)
    assert man["kind"] == "uvit-stage" and man["extra"]["step"] == 5 and man["extra"]["images"] == 5 * 8
    assert man["config"]["arch"] == "uvit" and man["config"]["text"]["prior_words"] > 0, "prior kept unbaked"
    _, state = load_stage(str(tmp_path / "stage1"))
    ema1 = _final(run1)["ema"]["shadow"]
    for k, v in ema1.items():
        if v.dtype.is_floating_point and k in state:
            assert torch.allclose(state[k].float(), v.float(), atol=1e-3 * max(1.0, float(v.abs().max()))), k

    # lr 0 after the stage: the run's weights stay the stage's, so a run that did not start from it is caught
    train_gen.main(
        base + ["--out", run2, "--steps", "8", "--warmup", "2", "--lr", "0", "--init-stage", str(tmp_path / "stage1")]
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
    exp = str(tmp_path / "candidate")
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
