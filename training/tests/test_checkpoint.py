"""Resume from a checkpoint continues bit-identically vs an uninterrupted run (tiny models, CPU)."""

import os
import sys

import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from mmamba.checkpoint import latest_checkpoint, list_checkpoints  # noqa: E402

COMMON = ["--preset", "tiny", "--device", "cpu", "--batch-size", "8", "--log-every", "5", "--ckpt-every", "1000"]


def _final(run_dir):
    return torch.load(latest_checkpoint(run_dir), map_location="cpu", weights_only=True)


def _assert_same(a, b):
    assert a["step"] == b["step"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    ea, eb = a.get("ema"), b.get("ema")
    if ea:
        for k in ea["shadow"]:
            assert torch.equal(ea["shadow"][k], eb["shadow"][k]), k
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    for i in sa:
        for k in sa[i]:
            assert torch.equal(torch.as_tensor(sa[i][k]), torch.as_tensor(sb[i][k])), (i, k)


def test_vq_resume_bitwise(tmp_path):
    import train_vq

    args = ["--data", "synthetic:48", "--steps", "12", "--restart-every", "4", "--val-every", "1000"] + COMMON
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    train_vq.main(args + ["--out", full])
    train_vq.main(args + ["--out", part, "--stop-after", "5"])
    assert [os.path.basename(p) for p in list_checkpoints(part)] == ["ckpt-00000005.pt"]
    train_vq.main(args + ["--out", part, "--resume"])
    _assert_same(_final(full), _final(part))


def test_atomic_write_leaves_no_temp(tmp_path):
    from mmamba.checkpoint import save_checkpoint

    m = torch.nn.Linear(2, 2)
    for s in range(4):
        save_checkpoint(str(tmp_path), s, m, keep=2)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-00000002.pt", "ckpt-00000003.pt"]


def _tokens_dir(tmp_path):
    """A tiny VQ run + encode_tokens output on synthetic images (shared by the generator tests)."""
    import encode_tokens
    import train_vq

    vq = str(tmp_path / "vq")
    train_vq.main(["--data", "synthetic:40", "--steps", "4", "--out", vq] + COMMON)
    tok = str(tmp_path / "tok")
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
        ]
    )
    return tok


def test_gen_resume_bitwise(tmp_path):
    import train_gen

    tok = _tokens_dir(tmp_path)
    for model in ("mmamba", "uvit"):
        args = ["--model", model, "--data", tok, "--steps", "12", "--val-every", "5", "--ema", "0.99"] + COMMON
        full, part = str(tmp_path / f"{model}_full"), str(tmp_path / f"{model}_part")
        train_gen.main(args + ["--out", full])
        train_gen.main(args + ["--out", part, "--stop-after", "5"])
        train_gen.main(args + ["--out", part, "--resume"])
        a, b = _final(full), _final(part)
        _assert_same(a, b)
        assert a["extra"]["kind"] == model and a["extra"]["tokenizer"]["type"] == "byte-bpe"
