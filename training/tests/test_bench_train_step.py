"""bench_train_step.py's variant specs: the --variants list keeps each variant's `@key=value,...` overrides together,
the overrides are parsed by the config field's type, and bad specs exit with a message."""

import os

import pytest
from bench_train_step import parse_spec, split_variants, with_overrides
from mmamba.config import small_mmamba, small_uvit


def test_variant_list_keeps_overrides_with_their_variant():
    specs = split_variants(
        "uvit, mmamba:split@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6,mmamba:split+compile,"
        "mmamba:fused@d_state=1+compile"
    )
    assert specs == [
        "uvit",
        "mmamba:split@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6",
        "mmamba:split+compile",
        "mmamba:fused@d_state=1+compile",
    ]


def test_spec_parts():
    assert parse_spec("uvit") == ("uvit", "", "", {})
    assert parse_spec("mmamba:split+compile@d_state=1") == ("mmamba", "split", "compile", {"d_state": "1"})
    assert parse_spec("mmamba:split@d_state=1,layers=6+compile") == (
        "mmamba",
        "split",
        "compile",
        {"d_state": "1", "layers": "6"},
    )
    for bad in ("mmamba", "uvit:split", "mmamba:split+fast", "mmamba:split@d_state"):
        with pytest.raises(SystemExit):
            parse_spec(bad)


def test_overrides_are_typed():
    cfg = with_overrides(small_mmamba(), {"expand": "1", "d_state": "1", "ffn": "1", "ffn_mult": "2", "layers": "6"})
    assert (cfg.expand, cfg.d_state, cfg.ffn, cfg.ffn_mult, cfg.layers) == (1, 1, True, 2, 6)
    assert cfg.d == 256 and cfg.dt_rank == 16 and cfg.d_inner == 256
    assert with_overrides(small_mmamba(), {"d": "320"}).dt_rank == 20  # re-derived from d
    assert with_overrides(small_mmamba(), {"ffn": "false"}).ffn is False
    assert with_overrides(small_uvit(), {"layers": "5"}).layers == 5
    for bad in ({"nope": "1"}, {"ffn": "2"}, {"layers": "x"}, {"text": "1"}):
        with pytest.raises((SystemExit, ValueError)):
            with_overrides(small_mmamba(), bad)


def test_env_items_stay_with_their_variant_and_are_restored(monkeypatch):
    from bench_train_step import env_set, split_env, with_compile

    lite = "mmamba:split+compile@expand=1,layers=6"
    specs = split_variants(f"{lite}~MMAMBA_CONV_BWD_WARPS=4,{lite}~MMAMBA_CONV_BWD_WARPS=8~MMAMBA_X=1,uvit")
    assert specs == [f"{lite}~MMAMBA_CONV_BWD_WARPS=4", f"{lite}~MMAMBA_CONV_BWD_WARPS=8~MMAMBA_X=1", "uvit"]
    base, env = split_env(specs[1])
    assert base == lite and env == {"MMAMBA_CONV_BWD_WARPS": "8", "MMAMBA_X": "1"}
    assert parse_spec(base)[3] == {"expand": "1", "layers": "6"}
    assert split_env("uvit") == ("uvit", {})
    assert with_compile("mmamba:split~MMAMBA_CONV_BWD_WARPS=8") == "mmamba:split+compile~MMAMBA_CONV_BWD_WARPS=8"
    assert with_compile("mmamba:split@layers=6") == "mmamba:split+compile@layers=6"
    for bad in ("uvit~PATH=/x", "uvit~MMAMBA_CONV_BWD_WARPS"):
        with pytest.raises(SystemExit):
            split_env(bad)
    monkeypatch.setenv("MMAMBA_CONV_BWD_WARPS", "4")
    monkeypatch.delenv("MMAMBA_X", raising=False)
    with env_set(env):
        assert os.environ["MMAMBA_CONV_BWD_WARPS"] == "8" and os.environ["MMAMBA_X"] == "1"
    assert os.environ["MMAMBA_CONV_BWD_WARPS"] == "4" and "MMAMBA_X" not in os.environ


def test_compiled_variants_differing_in_a_traced_env_item_are_refused():
    # MMAMBA_SPLIT_BWD / MMAMBA_SCAN_* are read while dynamo traces: two compiled variants of one spec that differ in
    # them would share a graph; eager variants, other specs and run-time items (MMAMBA_CONV_BWD_WARPS) are fine
    from bench_train_step import check_traced_env

    lite = "mmamba:split+compile@expand=1,d_state=1,layers=6"
    for bad in (
        [f"{lite}~MMAMBA_SPLIT_BWD=scratch", f"{lite}~MMAMBA_SPLIT_BWD=registers"],
        [lite, f"{lite}~MMAMBA_SPLIT_BWD=registers"],
        [f"{lite}~MMAMBA_SPLIT_BWD=registers", f"{lite}~MMAMBA_SPLIT_BWD=registers~MMAMBA_SCAN_CHUNK=8"],
    ):
        with pytest.raises(SystemExit, match="read while tracing"):
            check_traced_env(bad)
    check_traced_env(
        [
            "mmamba:split@d_state=1~MMAMBA_SPLIT_BWD=scratch",
            "mmamba:split@d_state=1~MMAMBA_SPLIT_BWD=registers",
            f"{lite}~MMAMBA_SPLIT_BWD=registers~MMAMBA_CONV_BWD_WARPS=4",
            f"{lite}~MMAMBA_CONV_BWD_WARPS=8~MMAMBA_SPLIT_BWD=registers",
            "uvit+compile",
            "mmamba:split+compile@d_state=1",
        ]
    )
