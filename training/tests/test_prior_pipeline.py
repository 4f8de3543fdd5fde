"""The word prior through the whole training pipeline (tiny, CPU): encode_tokens --prior trains a v2 tokenizer
whose words are the table's, train_gen builds the text encoder with the frozen prior, resumes bit-identically,
and the export (effective table) reproduces the trained model's logits when loaded back."""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from test_checkpoint import COMMON, _assert_same, _final  # noqa: E402


def _prior_file(path: str) -> str:
    from mmamba.runutil import synthetic_captions

    words = sorted({w for c in synthetic_captions(40) for w in c.replace(",", " ").split()})
    rng = np.random.default_rng(7)
    np.savez_compressed(path, words=np.array(words), vectors=rng.standard_normal((len(words), 8)).astype(np.float16))
    return path


def test_prior_through_encode_train_resume_export(tmp_path):
    import encode_tokens
    import train_gen
    import train_vq
    from mmamba.bpe import BPETokenizer
    from mmamba.export import export_checkpoint, load_state_dict_from_manifest

    vq, tok = str(tmp_path / "vq"), str(tmp_path / "tok")
    prior = _prior_file(str(tmp_path / "tiny_prior.npz"))
    train_vq.main(["--data", "synthetic:40", "--steps", "2", "--out", vq] + COMMON)
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
            "--prior",
            prior,
        ]
    )
    import json

    meta = json.load(open(os.path.join(tok, "tokens_meta.json")))
    bpe = BPETokenizer.from_dict(json.load(open(os.path.join(tok, "bpe.json"))))
    assert meta["prior"]["prior_words"] == len(bpe.words) > 0 and bpe.version == 2
    text = np.load(os.path.join(tok, "tokens_train.npz"))["text"]
    assert (text >= bpe.word_offset).any(), "no caption word became a prior word id"

    args = ["--model", "mmamba", "--data", tok, "--steps", "8", "--val-every", "100", "--ema", "0"] + COMMON
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    train_gen.main(args + ["--out", full])
    train_gen.main(args + ["--out", part, "--stop-after", "3"])
    train_gen.main(args + ["--out", part, "--resume"])
    _assert_same(_final(full), _final(part))
    # --prior-noise: a regulariser drawn from the run's seeded RNG, so a resumed run stays bit-identical, and it
    # changes the training (the noise reaches the weights); recorded in the checkpoint's args
    noisy, noisy_part = str(tmp_path / "noisy"), str(tmp_path / "noisy_part")
    train_gen.main(args + ["--out", noisy, "--prior-noise", "0.3"])
    train_gen.main(args + ["--out", noisy_part, "--prior-noise", "0.3", "--stop-after", "3"])
    train_gen.main(args + ["--out", noisy_part, "--prior-noise", "0.3", "--resume"])
    _assert_same(_final(noisy), _final(noisy_part))
    w_plain, w_noisy = _final(full)["model"]["text.word_proj.weight"], _final(noisy)["model"]["text.word_proj.weight"]
    assert not torch.equal(w_plain, w_noisy)
    assert _final(noisy)["extra"]["args"]["prior_noise"] == 0.3
    st = _final(full)
    assert "text.word_proj.weight" in st["model"] and "text.word_vectors" not in st["model"]

    out = str(tmp_path / "export")
    export_checkpoint(full, out, "tiny-prior", use_ema=False, dtype="f32", prior=prior)
    man, sd = load_state_dict_from_manifest(os.path.join(out, "manifest.json"))
    assert man["config"]["text"]["prior_words"] == 0 and sd["text.tok_emb.weight"].shape[0] == bpe.vocab_size

    from mmamba.config import config_from_dict
    from mmamba.mmamba import MMamba
    from mmamba.text_encoder import attach_prior

    trained = MMamba(config_from_dict(st["extra"]["config"]))
    attach_prior(trained, prior, tokenizer=bpe)
    trained.load_state_dict(st["model"])
    plain = MMamba(config_from_dict(man["config"]))
    plain.load_state_dict(sd)
    ids = bpe.encode_batch(["red square", "a big circle, icon"], 6)
    img = torch.randint(0, trained.cfg.codebook_size + 1, (2, trained.cfg.hw))
    with torch.no_grad():
        a, b = trained(img, ids), plain(img, ids)
    assert torch.allclose(a, b, atol=1e-3, rtol=1e-3), (a - b).abs().max()
