"""The pooled decode (data.decode_images) equals the serial path byte for byte, in the same order."""
import numpy as np

from mmamba import data as D


def test_pooled_decode_equals_serial(tmp_path):
    pack = D.Pack(D.make_tiny_dataset(str(tmp_path / "tiny")), seed=0)
    # every entry, in a scrambled order with a repeat, so order and chunk boundaries both matter
    ids = list(range(len(pack.entries)))[::-1] + [3, 0]
    serial = np.stack([pack.image(e) for e in ids])
    pooled = D.decode_images(pack, ids, workers=3, chunk=7)
    print("entries", len(ids), "kinds", sorted({b["kind"] for b in pack.bases}))
    assert pooled.dtype == np.uint8 and pooled.shape == serial.shape == (len(ids), 128, 128, 3)
    assert np.array_equal(pooled, serial)
    assert np.array_equal(D.decode_images(pack, ids, workers=1), serial)
    assert D.decode_images(pack, [], workers=3).shape == (0, 128, 128, 3)


def test_decode_workers_env(monkeypatch):
    monkeypatch.setenv("MMAMBA_DECODE_WORKERS", "5")
    assert D.decode_workers() == 5 and D.decode_workers(2) == 2
    monkeypatch.delenv("MMAMBA_DECODE_WORKERS")
    assert D.decode_workers() >= 1
