"""finetune_vq_decoder.py on the tiny world: only the decoder moves (token ids stay), a resumed run equals a straight
one, the loss terms are what they claim; and evaluate.py's --decoder rows draw the same tokens with another decoder."""

import json

import evaluate as E
import finetune_vq_decoder as FT
import numpy as np
import pytest
import torch
from encode_tokens import load_vq
from eval_fixtures import build_world
from mmamba.checkpoint import latest_checkpoint
from mmamba.export import export_checkpoint, export_weights, load_state_dict_from_manifest
from mmamba.vq import images_to_tensor


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(str(tmp_path_factory.mktemp("world")))


def run(world, out, steps, *extra):
    FT.main(
        ["--vq", world["vq"], "--data", world["pack"], "--out", str(out), "--steps", str(steps), "--batch-size", "2"]
        + ["--train-items", "6", "--val-items", "4", "--val-every", "2", "--ckpt-every", "2", "--warmup", "1"]
        + ["--lr", "3e-3", "--device", "cpu", *extra]
    )
    return torch.load(latest_checkpoint(str(out)), map_location="cpu", weights_only=True)


def test_only_the_decoder_moves_and_resume_is_exact(world, tmp_path):
    start = load_vq(world["vq"], "cpu").state_dict()
    straight = run(world, tmp_path / "a", 4)
    assert straight["step"] == 4
    for src in (straight["model"], straight["ema"]["shadow"]):
        moved = [k for k in start if not torch.equal(start[k], src[k].to(start[k].dtype))]
        assert moved and all(k.startswith("decoder.") for k in moved), moved
        assert not any(k.startswith(("encoder.", "quant.")) for k in moved)
    run(world, tmp_path / "b", 2)
    resumed = run(world, tmp_path / "b", 4, "--resume")
    assert resumed["step"] == 4
    for k, v in straight["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    # the fine-tuned VQ still turns an image into the same token ids
    tuned = load_vq(str(tmp_path / "a"), "cpu")
    x = images_to_tensor(torch.from_numpy(np.random.default_rng(1).integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)))
    assert torch.equal(tuned.encode(x), load_vq(world["vq"], "cpu").encode(x))


def test_f16_export_of_the_fine_tune_keeps_encoder_and_codebook_bytes(world, tmp_path):
    """Shipped as f16, the fine-tune must encode to the same ids: re-exporting may not renormalise the codebook."""
    vq = load_vq(world["vq"], "cpu")
    export_weights(vq.state_dict(), str(tmp_path / "f16"), "vq-f16", "vq", vq.cfg.to_dict(), dtype="f16")
    FT.main(
        ["--vq", str(tmp_path / "f16"), "--data", world["pack"], "--out", str(tmp_path / "run"), "--steps", "2"]
        + ["--batch-size", "2", "--train-items", "4", "--val-items", "2", "--lr", "3e-3", "--device", "cpu"]
    )
    export_checkpoint(str(tmp_path / "run"), str(tmp_path / "out"), "vq-out")
    _, before = load_state_dict_from_manifest(str(tmp_path / "f16"))
    _, after = load_state_dict_from_manifest(str(tmp_path / "out"))
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("decoder.") for k in moved), sorted(moved)


def test_decoder_loss_terms_and_schedule():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    assert FT.decoder_loss(x, x, 0.2, 1.0, 8).item() == 0
    # a constant colour shift: MSE = L1^2 = d^2, and the pooled cells shift by d too
    d = 0.1
    got = FT.decoder_loss(x + d, x, 0.2, 1.0, 8).item()
    assert got == pytest.approx(d * d + 0.2 * d + d * d, rel=1e-5)
    # zero-mean noise inside each 8x8 cell: the pooled term does not see it
    noise = torch.tensor([1.0, -1.0]).repeat(8)[None, None, :, None].expand(2, 3, 16, 16) * d
    assert FT.decoder_loss(x + noise, x, 0.0, 5.0, 8).item() == pytest.approx(d * d, rel=1e-5)
    assert FT.lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert FT.lr_at(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert FT.lr_at(100, 100, 1.0, 10) == pytest.approx(0.1)


def test_batches_cover_each_epoch_once():
    n, b = 10, 3
    epoch0 = torch.cat([FT.batch_indices(s, n, b, 5) for s in range(3)])
    assert len(set(epoch0.tolist())) == 9  # 3 full batches, no repeats
    assert not torch.equal(FT.batch_indices(3, n, b, 5), FT.batch_indices(0, n, b, 5))  # a new epoch reshuffles
    assert torch.equal(FT.batch_indices(4, n, b, 5), FT.batch_indices(4, n, b, 5))


def test_evaluate_decoder_rows(world, tmp_path):
    vq = load_vq(world["vq"], "cpu")
    same, other, foreign = (tmp_path / n for n in ("same", "other", "foreign"))
    export_weights(vq.state_dict(), str(same), "vq-same", "vq", vq.cfg.to_dict(), dtype="f32")
    sd = {k: v.clone() for k, v in vq.state_dict().items()}
    sd["decoder.conv_out.bias"] += 0.5  # a brighter decoder
    export_weights(sd, str(other), "vq-other", "vq", vq.cfg.to_dict(), dtype="f32")
    common = ["--data", world["pack"], "--evaluators", world["evaluators"], "--vq", world["vq"], "--device", "cpu"]
    common += ["--steps", "2", "--n", "4", "--gen", f"tiny={world['gen']}", "--reference"]
    res = E.main(common + ["--decoder", f"same={same}", "--decoder", f"other={other}"])
    rows = {r["name"]: r for r in res["rows"]}
    assert list(rows) == ["real", "vq-recon", "vq-recon@same", "vq-recon@other", "tiny", "tiny@same", "tiny@other"]
    for key in ("clip", "top5", "colour", "fid"):
        assert rows["tiny@same"][key] == rows["tiny"][key] and rows["vq-recon@same"][key] == rows["vq-recon"][key]
    assert rows["vq-recon@same"]["psnr"] == rows["vq-recon"]["psnr"] != rows["vq-recon@other"]["psnr"]
    assert rows["tiny@other"]["clip"] != rows["tiny"]["clip"]
    sd = {k: v.clone() for k, v in vq.state_dict().items()}
    sd["quant.codebook"] = torch.roll(sd["quant.codebook"], 1, 0)
    export_weights(sd, str(foreign), "vq-foreign", "vq", vq.cfg.to_dict(), dtype="f32")
    with pytest.raises(SystemExit, match="codebook"):
        E.main(common + ["--decoder", f"foreign={foreign}"])


def test_colour_probe_counts_and_overfit(world, tmp_path):
    import vq_colour_probe as P

    out = P.main(
        ["--vq", world["vq"], "--data", world["pack"], "--n", "8", "--overfit", "3", "--passes", "6"]
        + ["--report-every", "3", "--batch", "3", "--lr", "3e-3", "--json", str(tmp_path / "p.json")]
    )
    assert out["colour"]["real"] == 1.0  # the tiny pack's drawings are what their prompts say
    n = out["n"]
    assert sum(v[0] for v in out["missed_by_colour"].values()) == round(out["colour"]["real"] * n)
    missed = sum(v[1] for v in out["missed_by_colour"].values())
    assert missed == round((1 - out["colour"]["recon"]) * n)  # every drawing the rule reads right, less the recon's
    assert sum(c[2] for c in out["confusions"]) == missed
    curve = out["overfit"]["curve"]
    assert out["overfit"]["drawings"] == min(3, missed) and [c["passes"] for c in curve] == [3, 6]
    assert curve[-1]["loss"] < curve[0]["loss"]  # the decoder copy does learn these drawings (one batch: all of them)
    assert json.load(open(tmp_path / "p.json"))["overfit"]["curve"] == curve
    assert all(0 <= c["recovered"] <= out["overfit"]["drawings"] for c in curve)
