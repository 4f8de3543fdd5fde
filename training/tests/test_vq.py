"""VQ tokenizer: shapes, encode/decode round trip, gradients (straight-through), config round trip."""

import torch
from mmamba.vq import VQConfig, VQModel, images_to_tensor, psnr, tensor_to_images


def test_shapes_and_roundtrip():
    torch.manual_seed(0)
    cfg = VQConfig.tiny()
    m = VQModel(cfg).eval()
    x = torch.rand(3, 3, cfg.image_size, cfg.image_size) * 2 - 1  # (B, 3, S, S)
    recon, tokens, vq_loss, zn = m(x)
    g = cfg.image_size // 8
    assert recon.shape == x.shape and tokens.shape == (3, g, g) and zn.shape == (3, cfg.code_dim, g, g)
    assert tokens.dtype == torch.int64 and int(tokens.max()) < cfg.codebook_size and vq_loss.ndim == 0
    t = m.encode(x)
    assert torch.equal(t, tokens)
    # decode_tokens(encode(x)) is exactly the forward reconstruction (straight-through value = code).
    torch.testing.assert_close(m.decode_tokens(t), recon, rtol=1e-5, atol=1e-5)
    # encoding the codebook vectors themselves gives back their ids (unit-norm codes, argmax dot).
    codes = m.quant.codes()
    assert torch.equal(m.quant.lookup(codes[:5].view(5, -1, 1, 1)).flatten(), torch.arange(5))


def test_small_preset_size():
    cfg = VQConfig.small()
    m = VQModel(cfg)
    n = m.num_params()
    assert 1.0e6 <= n <= 2.0e6, n
    assert cfg.grid == 16 and cfg.downsample == 8 and cfg.codebook_size == 1024


def test_gradients_reach_encoder_and_codebook():
    torch.manual_seed(1)
    m = VQModel(VQConfig.tiny())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    recon, _, vq_loss, _ = m(x)
    (torch.nn.functional.mse_loss(recon, x) + vq_loss).backward()
    for name in ["encoder.conv_in.weight", "quant.codebook", "decoder.conv_out.weight"]:
        p = dict(m.named_parameters())[name]
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_config_dict_roundtrip_and_restart():
    cfg = VQConfig.tiny()
    d = cfg.to_dict()
    assert VQConfig.from_dict(d) == cfg and d["grid"] == 4
    m = VQModel(cfg)
    m.quant.usage.zero_()
    zn = torch.nn.functional.normalize(torch.randn(2, cfg.code_dim, 4, 4), dim=1)
    assert m.quant.restart_dead_codes(zn) == cfg.codebook_size
    torch.testing.assert_close(m.quant.codebook.norm(dim=1), torch.ones(cfg.codebook_size))


def test_pixel_helpers():
    u8 = torch.randint(0, 256, (2, 8, 8, 3), dtype=torch.uint8)
    x = images_to_tensor(u8)
    assert x.shape == (2, 3, 8, 8) and torch.equal(tensor_to_images(x), u8)
    assert torch.all(psnr(x, x) > 90)


def test_pipeline_on_tiny_pack(tmp_path):
    """train_vq -> encode_tokens -> train_gen -> export -> sample_grid on data.make_tiny_dataset()."""
    import json

    import encode_tokens
    import sample_grid
    import train_gen
    import train_vq
    from mmamba import data as D
    from mmamba.export import export_checkpoint, load_manifest

    pack = D.make_tiny_dataset(str(tmp_path / "pack"))
    common = ["--preset", "tiny", "--device", "cpu", "--batch-size", "8", "--log-every", "2"]
    train_vq.main(["--data", pack, "--out", str(tmp_path / "vq"), "--steps", "3"] + common)
    encode_tokens.main(
        [
            "--data",
            pack,
            "--vq",
            str(tmp_path / "vq"),
            "--out",
            str(tmp_path / "tok"),
            "--vocab-size",
            "290",
            "--text-len",
            "6",
            "--device",
            "cpu",
        ]
    )
    meta = json.load(open(tmp_path / "tok" / "tokens_meta.json"))
    assert meta["counts"]["train"] == D.split_size("train", root=pack) and meta["grid"] == 4
    train_gen.main(
        ["--model", "mmamba", "--data", str(tmp_path / "tok"), "--out", str(tmp_path / "gen"), "--steps", "3"] + common
    )
    export_checkpoint(str(tmp_path / "gen"), str(tmp_path / "exp"), "mmamba-t", int8=True)
    man, _ = load_manifest(str(tmp_path / "exp"))
    assert man["kind"] == "mmamba" and man["tokenizer"]["type"] == "byte-bpe" and man["config"]["grid"] == 4
    sample_grid.main(
        [
            "--gen",
            str(tmp_path / "exp"),
            "--vq",
            str(tmp_path / "vq"),
            "--data",
            pack,
            "--out",
            str(tmp_path / "grid.png"),
            "--seeds",
            "1",
            "--steps",
            "3",
            "--device",
            "cpu",
        ]
    )
    assert (tmp_path / "grid.png").exists()
