"""A stage directory exports as a browser generator (export.py --ckpt STAGE_DIR) like the checkpoint it was saved
from: same kind (no "-stage"), config and tokenizer, every stored tensor bit for bit except the baked word rows,
which go through the stage's int8 word_proj and stay within that rounding's bound; and what is neither a checkpoint
nor a stage is refused with a clear message.

The bound asserted on a baked word row k, element i (word row = word_proj(v_k), v_k the table's normalised vector):
|stage - checkpoint| <= sum_j |v_kj| * s_i / 2 + |b_i| * 2^-11 + (step_stage_k + step_ckpt_k) / 2 + 1e-6, with s_i the
stage's int8 scale of word_proj row i (each weight off by at most s_i / 2), 2^-11 the f16 rounding of the bias, and
the two exports' own int8 steps of row k. Every other tensor must be stored byte for byte the same (re-quantising
q * s finds s and q again). A stage with one int8 weight one step off, or a word_proj bias moved by 0.5, fails it."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from test_text_prior import setup  # noqa: E402

INT8_MIN = 64  # the tiny model's 2-D weights (word_proj 16x8 included) go int8, as model M's do at 16384
WORD_EMB = "text.tok_emb.weight"


def _checkpoint(tmp_path):
    """A train_gen-like checkpoint of a tiny M-Mamba with a word prior; its EMA differs from its weights."""
    from mmamba.checkpoint import EMA, save_checkpoint

    model, tok, table = setup(tmp_path)
    ema = EMA(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # the weights move on: stage and export must both take the EMA
    extra = {"kind": "mmamba", "config": model.cfg.to_dict(), "tokenizer": tok.to_dict(), "args": {"batch_size": 8}}
    save_checkpoint(str(tmp_path / "run"), 7, model, ema=ema, extra=extra)
    return str(tmp_path / "run"), table


def _mismatches(stage_export: str, ckpt_export: str, stage_dir: str, prior: str) -> list[str]:
    """What breaks the module docstring's statement, one line each (empty: the two exports agree)."""
    from mmamba.export import load_manifest
    from mmamba.text_encoder import read_prior

    ma, ra = load_manifest(stage_export, dequantize=False)
    mb, rb = load_manifest(ckpt_export, dequantize=False)
    _, da = load_manifest(stage_export)
    _, db = load_manifest(ckpt_export)
    _, rs = load_manifest(stage_dir, dequantize=False)
    _, ds = load_manifest(stage_dir)
    bad = [f"{k} is {ma['tensors'][k]['dtype']}" for k in ma["tensors"] if ma["tensors"][k] != mb["tensors"].get(k)]
    if set(ma["tensors"]) != set(mb["tensors"]):
        bad.append(f"tensor sets differ: {sorted(set(ma['tensors']) ^ set(mb['tensors']))[:5]}")
    wo = ma["tokenizer"]["word_offset"]
    for k in ra:
        if k in rb and not k.startswith(WORD_EMB) and not np.array_equal(ra[k], rb[k]):
            bad.append(f"{k}: stored values differ, max |d| {float(np.abs(da[k] - db[k]).max()):.3g}")
    for k in (WORD_EMB, WORD_EMB + ".scale"):
        if not np.array_equal(ra[k][:wo], rb[k][:wo]):
            bad.append(f"{k}: rows below word_offset {wo} differ")
    v = read_prior(prior).vectors.astype(np.float32)  # (prior_words, prior_dim), what bake_prior multiplies
    s_wp = rs["text.word_proj.weight.scale"].astype(np.float32)  # (w,)
    b = ds["text.word_proj.bias"]  # (w,)
    step_a = ra[WORD_EMB + ".scale"][wo:].astype(np.float32)[:, None]
    step_b = rb[WORD_EMB + ".scale"][wo:].astype(np.float32)[:, None]
    bound = np.abs(v).sum(1, keepdims=True) * s_wp / 2 + np.abs(b) * 2.0**-11 + (step_a + step_b) / 2 + 1e-6
    d = np.abs(da[WORD_EMB][wo:] - db[WORD_EMB][wo:])
    print(f"word rows: max |d| {d.max():.4g}, max |d| / bound {(d / bound).max():.3f}")
    if not np.all(d <= bound):
        bad.append(f"word rows beyond the word_proj rounding bound: max |d| / bound {(d / bound).max():.3f}")
    return bad


def _restage(stage_dir: str, out: str, change) -> str:
    """A copy of the stage with change(state) applied, saved the way save_stage saves."""
    from mmamba.export import export_weights
    from mmamba.stage import load_stage

    man, state = load_stage(stage_dir)
    change(state, man)
    export_weights(
        state, out, man["modelId"], man["kind"], man["config"], man["tokenizer"], int8=True, int8_min_numel=INT8_MIN,
        extra=man["extra"],
    )  # fmt: skip
    return out


def test_stage_exports_like_its_checkpoint(tmp_path):
    from mmamba.export import export_checkpoint, load_manifest, main
    from mmamba.stage import save_stage

    run, table = _checkpoint(tmp_path)
    stage = str(tmp_path / "stage")
    sman = save_stage(run, stage, stage=3, int8_min_numel=INT8_MIN)
    assert sman["kind"] == "mmamba-stage" and sman["config"]["text"]["prior_words"] > 0
    assert sman["tensors"]["text.word_proj.weight"]["dtype"] == "int8", "the stage's word_proj is int8, as model M's"
    n_int8 = sum(t["dtype"] == "int8" for t in sman["tensors"].values())
    assert n_int8 >= 10, n_int8

    cli = str(tmp_path / "cli")
    main(["--ckpt", stage, "--out", cli, "--id", "tiny", "--int8", "--prior", table])  # the CLI's path (verifies)
    assert json.load(open(os.path.join(cli, "manifest.json")))["kind"] == "mmamba"
    from_stage, from_ckpt = str(tmp_path / "from_stage"), str(tmp_path / "from_ckpt")
    export_checkpoint(stage, from_stage, "tiny", int8=True, prior=table, int8_min_numel=INT8_MIN)
    export_checkpoint(run, from_ckpt, "tiny", int8=True, prior=table, int8_min_numel=INT8_MIN)
    ma, _ = load_manifest(from_stage)
    mb, _ = load_manifest(from_ckpt)
    assert ma["kind"] == mb["kind"] == "mmamba", "the kind loses its -stage suffix"
    assert ma["config"] == mb["config"] and ma["config"]["text"]["prior_words"] == 0, "prior baked, same config"
    assert ma["tokenizer"] == mb["tokenizer"] == sman["tokenizer"]
    assert ma["extra"] == {
        "source": "stage",
        "stage": 3,
        "step": 7,
        "images": 7 * 8,
        "checkpoint": "ckpt-00000007.pt",
        "ema": True,
    }
    assert mb["extra"]["source"] == "ckpt-00000007.pt" and mb["extra"]["ema"]
    assert ma["tensors"][WORD_EMB]["dtype"] == "int8"
    assert _mismatches(from_stage, from_ckpt, stage, table) == []

    # the comparison can fail: one int8 weight one step off, and a moved word_proj bias
    def one_step(state, man):
        k = "layers.0.in_proj.weight"
        assert man["tensors"][k]["dtype"] == "int8", sorted(man["tensors"])[:20]
        row = state[k][0]
        j = int(row.abs().argmin())  # far from the row's maximum: the scale stays, q[0, j] moves by one
        state[k][0, j] += float(row.abs().max()) / 127

    def moved_bias(state, man):
        state["text.word_proj.bias"][0] += 0.5

    for name, change in (("one_step", one_step), ("moved_bias", moved_bias)):
        bad_stage = _restage(stage, str(tmp_path / name), change)
        out = str(tmp_path / f"{name}_export")
        export_checkpoint(bad_stage, out, "tiny", int8=True, prior=table, int8_min_numel=INT8_MIN)
        bad = _mismatches(out, from_ckpt, bad_stage, table)
        assert bad, f"{name}: a perturbed stage passed the comparison"
        print(name, bad)


def test_export_refuses_what_is_neither(tmp_path):
    from mmamba.export import NotExportableError, export_checkpoint, main
    from mmamba.stage import save_stage

    run, table = _checkpoint(tmp_path)
    stage = str(tmp_path / "stage")
    save_stage(run, stage, stage=1)
    exported = str(tmp_path / "exported")
    export_checkpoint(run, exported, "tiny", prior=table)
    out = str(tmp_path / "out")
    with pytest.raises(NotExportableError, match=r"kind 'mmamba' is not a stage.*neither a checkpoint nor a stage"):
        export_checkpoint(exported, out, "x", prior=table)  # a browser export is not a stage
    with pytest.raises(SystemExit, match="^error: .*neither a checkpoint nor a stage"):
        main(["--ckpt", exported, "--out", out, "--id", "x"])  # the CLI: one line, no traceback
    assert not os.path.exists(out), "nothing is written for a refused source"
    empty = tmp_path / "empty"
    os.makedirs(empty)
    with pytest.raises(NotExportableError, match=r"no ckpt-\*\.pt and no manifest\.json"):
        export_checkpoint(str(empty), out, "x")
    both = str(tmp_path / "both")
    shutil.copytree(stage, both)
    shutil.copy(os.path.join(run, "ckpt-00000007.pt"), both)
    with pytest.raises(NotExportableError, match="both ckpt"):
        export_checkpoint(both, out, "x", prior=table)
    junk = tmp_path / "ckpt-00000001.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(NotExportableError, match="not a torch checkpoint"):
        export_checkpoint(str(junk), out, "x")
    other = tmp_path / "ckpt-00000002.pt"
    torch.save({"weights": torch.zeros(2)}, str(other))
    with pytest.raises(NotExportableError, match="not a train checkpoint"):
        export_checkpoint(str(other), out, "x")
    with pytest.raises(NotExportableError, match="only the EMA"):
        export_checkpoint(stage, out, "x", use_ema=False, prior=table)
    # the stage's manifest.json itself names the stage; and a stage refuses another word table like a checkpoint does
    m = export_checkpoint(os.path.join(stage, "manifest.json"), out, "x", prior=table)
    assert m["kind"] == "mmamba" and m["extra"]["stage"] == 1
    from mmamba.text_encoder import PriorMismatchError
    from test_text_prior import SEED, write_table

    with pytest.raises(PriorMismatchError):
        export_checkpoint(stage, out, "x", prior=write_table(tmp_path / "other.npz", SEED + 7))
    assert json.load(open(os.path.join(stage, "manifest.json")))["kind"] == "mmamba-stage", "the stage is untouched"
