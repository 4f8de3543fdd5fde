"""stages.sh's stop_at_step: the flag that ends a `more` at an exact step (a candidate at a rival line's image
count). The function is taken verbatim from the recipe file and run in bash against fake checkpoints."""

import os
import re
import subprocess

import pytest

STAGES_SH = os.path.join(os.path.dirname(__file__), "..", "recipes", "stages.sh")


def stop_at_step(runs: str, until: str | None, stage: int = 2) -> subprocess.CompletedProcess:
    src = open(STAGES_SH).read()
    m = re.search(r"^stop_at_step\(\) \{\n.*?^\}\n", src, re.S | re.M)
    assert m, "stop_at_step() not found in stages.sh"
    env = {"PATH": os.environ["PATH"], "R": runs, "STAGE": str(stage)}
    if until is not None:
        env["UNTIL_STEP"] = until
    return subprocess.run(
        ["bash", "-c", m.group(0) + "stop_at_step"], env=env, capture_output=True, text=True, timeout=30
    )


def touch_ckpts(runs, stage: int, *steps: int) -> None:
    d = runs / f"stage{stage}"
    d.mkdir(parents=True, exist_ok=True)
    for s in steps:
        (d / f"ckpt-{s:08d}.pt").write_bytes(b"")


def test_counts_from_the_newest_checkpoint(tmp_path):
    # 8000 and 9000 are invalid octal numbers: the step must be read in base 10
    touch_ckpts(tmp_path, 2, 8000, 9000, 32100)
    r = stop_at_step(str(tmp_path), "34330")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["--stop-after", str(34330 - 32100)]
    touch_ckpts(tmp_path, 3, 8000, 9000)
    r = stop_at_step(str(tmp_path), "9010", stage=3)
    assert r.stdout.split() == ["--stop-after", "10"], r.stderr


def test_unset_adds_nothing(tmp_path):
    r = stop_at_step(str(tmp_path), None)
    assert r.returncode == 0 and r.stdout == ""


@pytest.mark.parametrize(
    "until,ckpts,message",
    [
        ("34330", (), "needs a checkpoint"),
        ("32100", (32100,), "not past the run's step 32100"),
        ("1000", (32100,), "not past"),
        ("3e4", (32100,), "must be a step number"),
        ("-5", (32100,), "must be a step number"),
    ],
)
def test_refuses_what_cannot_stop_there(tmp_path, until, ckpts, message):
    touch_ckpts(tmp_path, 2, *ckpts)
    r = stop_at_step(str(tmp_path), until)
    assert r.returncode != 0 and r.stdout == "", (r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
