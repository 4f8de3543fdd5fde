"""2-process gloo DDP on CPU through torchrun: a few steps, and both ranks end with identical weights."""

import os
import subprocess
import sys

import torch

HERE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def _torchrun(script, args, out):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=HERE)
    cmd = (
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            os.path.join(HERE, script),
        ]
        + args
        + ["--out", out, "--device", "cpu", "--save-rank-state"]
    )
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    a = torch.load(os.path.join(out, "rank0_final.pt"), weights_only=True)
    b = torch.load(os.path.join(out, "rank1_final.pt"), weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    return r.stdout


def test_ddp_vq_two_ranks_identical(tmp_path):
    out = _torchrun(
        "train_vq.py",
        [
            "--data",
            "synthetic:32",
            "--preset",
            "tiny",
            "--steps",
            "6",
            "--batch-size",
            "8",
            "--log-every",
            "3",
            "--restart-every",
            "2",
        ],
        str(tmp_path / "vq"),
    )
    assert "world 2" in out


def test_ddp_gen_two_ranks_identical(tmp_path):
    from test_checkpoint import _tokens_dir

    tok = _tokens_dir(tmp_path)
    out = _torchrun(
        "train_gen.py",
        [
            "--model",
            "mmamba",
            "--data",
            tok,
            "--preset",
            "tiny",
            "--steps",
            "4",
            "--batch-size",
            "8",
            "--log-every",
            "2",
        ],
        str(tmp_path / "gen"),
    )
    assert "world 2" in out
