"""The pooled dataset work (mmamba/pool.py, data.decode_images) equals the serial path exactly, in order."""

import numpy as np
from mmamba import data as D
from mmamba import pool


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


def test_hue_rotate_by_palette_equals_per_pixel():
    rng = np.random.default_rng(7)
    print("seed 7")
    img = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    img[::3] = img[::3, :, :1]  # some greys
    for deg in (90, 180, 270, 33.5):
        h, s, v = D.rgb_to_hsv(img)
        grey = (img.max(-1) == img.min(-1))[..., None]
        per_pixel = np.where(grey, img, D.hsv_to_rgb(h + deg, s, v))
        assert np.array_equal(D.hue_rotate(img, deg), per_pixel)


def test_map_items_keeps_order_and_values():
    f = lambda i: [i, i * i % 7]  # noqa: E731
    want = [f(i) for i in range(103)]
    assert pool.map_items(f, 103, workers=3, chunk=10) == want
    assert pool.map_items(f, 103, workers=1) == want and pool.map_items(f, 0, workers=3) == []


def test_pool_size_env(monkeypatch):
    monkeypatch.setenv("MMAMBA_DECODE_WORKERS", "5")
    assert pool.pool_size() == 5 and pool.pool_size(2) == 2
    monkeypatch.delenv("MMAMBA_DECODE_WORKERS")
    assert pool.pool_size() >= 1


def test_pooled_captions_and_ids_equal_serial(tmp_path, monkeypatch):
    import encode_tokens
    from mmamba.bpe import BPETokenizer

    root = D.make_tiny_dataset(str(tmp_path / "tiny"))
    monkeypatch.setattr(pool, "DEFAULT_CHUNK", 7)
    monkeypatch.setenv("MMAMBA_DECODE_WORKERS", "3")
    caps, entries = encode_tokens.caption_sets(root, "train", 4)
    p = D.load_pack(root, 0)
    serial = [[p.caption(ei)] + [p.caption(ei, v, i) for v in range(1, 4)] for i, ei in enumerate(p.splits["train"])]
    assert entries == list(p.splits["train"]) and len(caps) > 14 and caps == serial
    bpe = BPETokenizer.train([c for cs in serial for c in cs], vocab_size=300, max_len=12, version=2)
    ids = encode_tokens.caption_ids(bpe, caps, 12)
    assert ids.dtype == np.uint16 and ids.shape == (len(caps), 4, 12)
    assert np.array_equal(ids, np.array([[bpe.encode(c) for c in cs] for cs in serial], np.uint16))


def test_pool_ends_despite_an_inherited_stop_handler(tmp_path):
    """A trainer's SIGTERM handler (mmamba/checkpoint.py) in the parent must not keep the workers alive."""
    import signal

    old = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        assert pool.map_items(lambda i: i * 3, 40, workers=2, chunk=5) == [i * 3 for i in range(40)]
    finally:
        signal.signal(signal.SIGTERM, old)
