"""Evaluator models (mmamba/evaluator.py): a few optimiser steps reduce both losses on a fixed tiny batch;
augmentation keeps shapes and is the identity when off; the saved file reloads to the same outputs."""

import torch
import torch.nn.functional as F
from mmamba.bpe import BPETokenizer
from mmamba.config import TextConfig
from mmamba.evaluator import (
    ClassifierConfig,
    ConceptClassifier,
    ContrastiveConfig,
    ContrastiveModel,
    TowerConfig,
    augment,
    load_evaluators,
    preprocess,
    save_evaluators,
)

TOWER = TowerConfig(widths=(8, 16), blocks=1, image_size=16)


def _models(num_classes=4):
    torch.manual_seed(0)
    con = ContrastiveModel(
        ContrastiveConfig(
            tower=TOWER,
            text=TextConfig(vocab_size=40, max_len=8, width=16, layers=1, heads=2, ffn_mult=2),
            embed_dim=16,
        )
    )
    cls = ConceptClassifier(ClassifierConfig(tower=TOWER, num_classes=num_classes))
    return con, cls


def _batch(n=8):
    """Images whose colour tells the label (so a few steps can learn it) plus noise; random captions."""
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(n) % 4
    palette = torch.tensor([[220, 30, 30], [30, 170, 60], [30, 90, 220], [245, 215, 30]])
    noise = torch.randint(-40, 41, (n, 32, 32, 3), generator=g)
    u8 = (palette[labels][:, None, None, :] + noise).clamp(0, 255).to(torch.uint8)
    ids = torch.randint(3, 40, (n, 8), generator=g)
    ids[:, 6:] = 0  # padding
    return preprocess(u8, TOWER.image_size), ids, labels


def test_training_steps_reduce_both_losses():
    con, cls = _models()
    x, ids, labels = _batch()
    opt = torch.optim.AdamW(list(con.parameters()) + list(cls.parameters()), lr=3e-3)
    first = last = None
    for _ in range(8):
        loss_con = con.loss(x, ids)
        loss_cls = F.cross_entropy(cls(x), labels)
        if first is None:
            first = (float(loss_con.detach()), float(loss_cls.detach()))
        opt.zero_grad()
        (loss_con + loss_cls).backward()
        opt.step()
        last = (float(loss_con.detach()), float(loss_cls.detach()))
    assert last[0] < 0.8 * first[0] and last[1] < 0.8 * first[1], (first, last)


def test_groups_default_to_one_per_item_and_duplicates_share_targets():
    con, _ = _models()
    x, ids, _ = _batch(4)
    with torch.no_grad():
        assert torch.allclose(con.loss(x, ids), con.loss(x, ids, group=torch.arange(4)))
        ids[1] = ids[0]  # two items with the same caption:
        g = torch.tensor([0, 0, 1, 2])  # swapping their images changes nothing
        swapped = x[torch.tensor([1, 0, 2, 3])]
        assert torch.allclose(con.loss(x, ids, g), con.loss(swapped, ids, g), atol=1e-5)


def test_augment_shapes_and_identity():
    x, _, _ = _batch()
    assert torch.equal(augment(x, 0, False), x)
    y = augment(x, 2, True, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    # translation by at most 2 px: each output row is some input row shifted (values come from x only)
    assert float(y.min()) >= float(x.min()) and float(y.max()) <= float(x.max())


def test_save_load_round_trip(tmp_path):
    con, cls = _models()
    con.eval(), cls.eval()
    bpe = BPETokenizer([], max_len=8)
    x, ids, _ = _batch()
    for half, tol in ((False, 1e-6), (True, 2e-2)):  # f16 storage: rounding of the weights only
        save_evaluators(
            str(tmp_path / "ev.pt"), con, cls, bpe.to_dict(), ["a", "b", "c", "d"], extra={"summary": {}}, half=half
        )
        ev = load_evaluators(str(tmp_path / "ev.pt"))
        with torch.no_grad():
            assert torch.allclose(ev.classifier(x), cls(x), atol=tol)
            assert torch.allclose(ev.contrastive.encode_text(ids), con.encode_text(ids), atol=tol)
        assert ev.concepts == ["a", "b", "c", "d"] and ev.image_size == TOWER.image_size
        assert next(ev.classifier.parameters()).dtype == torch.float32


def test_scheduled_lr_warms_up_then_anneals_to_a_tenth():
    from train_evaluator import scheduled_lr

    assert scheduled_lr(1.0, 0, 4, 0.0) == 0.25 and scheduled_lr(1.0, 3, 4, 0.0) == 1.0
    assert scheduled_lr(1.0, 10, 4, 0.0) == 1.0 and abs(scheduled_lr(1.0, 10, 4, 0.5) - 0.55) < 1e-12
    assert abs(scheduled_lr(1.0, 10, 4, 1.0) - 0.1) < 1e-12 and scheduled_lr(1.0, 10, 4, 3.0) == scheduled_lr(
        1.0, 10, 4, 1.0
    )
