"""bench_train_step.py's variant specs: the --variants list keeps each variant's `@key=value,...` overrides together,
the overrides are parsed by the config field's type, and bad specs exit with a message."""

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
