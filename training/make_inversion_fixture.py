"""Golden fixture for the TypeScript textual inversion (src/finetune/inversion.ts WordInversion, issue 20): a PyTorch
reference of exactly what a WordInversion step does, on the e2e tiny generator (e2e/fixtures/models/mmamba-e2e;
sequential reference scan, CPU, f32). Writes tests/fixtures/inversion_tiny.json (small, plain JSON).

The new word gets the id the base tokenizer never produces (its vocab_size; src/finetune/word.ts newWordId) and the
text table's row at that id starts at the mean of the rows below it (initialWordVector). A step (0-based `step`):
  1. text dropout: row b's caption -> the empty prompt [bos, eos, pad…] when uniform(seed, S + 4·step + 2, b) < p
  2. training mask: t_b = uniform(seed, S + 4·step, b), n_b = clamp(ceil(cos(π/2·t_b)·HW), 1, HW) positions: the n_b
     smallest scores uniform(seed, S + 4·step + 1, b·HW + pos) (ties: lower index), input [MASK] there
     (S = FINETUNE_STREAM = 0x46540000, the shared counter RNG of training/mmamba/rng.py)
  3. loss = mean cross-entropy over all masked positions of the batch (masked_token_loss)
  4. g = d loss / d table[id] (the other rows frozen: their gradients dropped)
  5. lr = learningRateAt(step): linear warmup over warmup steps, then cosine to min_lr_ratio·lr at total_steps
  6. AdamW as shaders/adamw.wgsl with weight decay 0: coef = min(1, clip / (|g| + 1e-6)), g' = coef·g,
     m = β1·m + (1−β1)·g', v = β2·v + (1−β2)·g'², row -= lr·(m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + eps), t = 1, 2, …
The batch mixes rows whose caption has the word with rows that do not ("red apple": as a prior-preservation row
would be): those count in the loss and its normalisation but give the row no gradient.
Records the masks and dropped texts (checks the TS RNG), the first step's gradient of the row (checked through
MMambaAutodiff), and per step: lr, loss, gradient norm, the row, m and v after it.

It also writes tests/fixtures/lora_prior_step_tiny.json: the LoRA phase that follows (pivotal tuning) with prior
preservation, as src/finetune/trainer.ts FineTuner steps it on the base with the learned row: every target of the
page's 'all' (in_proj, out_proj, mod, head, text, text_layers), rank 2, alpha 4, seeded A and B (B ≠ 0); a batch of
2 pairs (captions with the word) and, as the worker's fillBatch puts them last, 2 prior rows (control prompts with
their "base renders"); 2 steps: W_eff = W + (alpha/rank)·B·A, the same dropout and mask streams, masked CE, one
global gradient norm over every factor, clipping, AdamW with decoupled weight decay on every factor.
Deterministic, ~3 s:  training/.venv/bin/python training/make_inversion_fixture.py
"""

from __future__ import annotations

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from mmamba.bpe import BPETokenizer  # noqa: E402
from mmamba.config import config_from_dict  # noqa: E402
from mmamba.export import load_state_dict_from_manifest  # noqa: E402
from mmamba.mmamba import MMamba  # noqa: E402
from mmamba.rng import uniform  # noqa: E402
from mmamba.sampling import masked_token_loss  # noqa: E402

MODEL = os.path.join(HERE, "..", "e2e", "fixtures", "models", "mmamba-e2e")
OUT = os.path.join(HERE, "..", "tests", "fixtures", "inversion_tiny.json")
OUT_LORA = os.path.join(HERE, "..", "tests", "fixtures", "lora_prior_step_tiny.json")
FINETUNE_STREAM = 0x46540000
WORD = "zorblat"
CAPTIONS = ["a zorblat", "Zorblat, flat emoji", "red apple", "zorblat outline icon"]
# The WordInversion options (DEFAULT_FINETUNE_OPTIONS' betas, eps, clip; weight decay 0 as inversion.ts requires).
# textDropout 0.3 with seed 5 drops a row in one of the steps and the clip (8) acts in some steps only (both checked
# below), so dropout and clipping are exercised.
OPTIONS = {
    "batchSize": 4,
    "lr": 0.05,
    "warmupSteps": 1,
    "totalSteps": 3,
    "schedule": "cosine",
    "minLrRatio": 0.1,
    "betas": [0.9, 0.95],
    "eps": 1e-8,
    "gradClip": 8.0,
    "textDropout": 0.3,
    "seed": 5,
    "weightDecay": 0,
}
STEPS = 3


def lr_at(o: dict, step: int) -> float:
    """src/finetune/trainer.ts learningRateAt."""
    warm = o["warmupSteps"]
    if step < warm:
        return o["lr"] * (step + 1) / warm
    p = min(1.0, (step - warm) / max(1, o["totalSteps"] - warm))
    lo = o["minLrRatio"]
    return o["lr"] * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * p)))


def drop_text(ids: torch.Tensor, empty: torch.Tensor, p: float, seed: int, step: int) -> torch.Tensor:
    u = uniform(seed, FINETUNE_STREAM + 4 * step + 2, torch.arange(ids.shape[0]))
    out = ids.clone()
    out[u < p] = empty
    return out


def training_mask(tokens: torch.Tensor, mask_id: int, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    B, HW = tokens.shape
    t = uniform(seed, FINETUNE_STREAM + 4 * step, torch.arange(B)).double()
    n = torch.clamp(torch.ceil(torch.cos(math.pi / 2 * t) * HW), 1, HW).long()
    scores = uniform(seed, FINETUNE_STREAM + 4 * step + 1, torch.arange(B * HW)).view(B, HW)
    order = torch.argsort(scores, dim=1, stable=True)  # ties: lower index first
    mask = torch.zeros(B, HW, dtype=torch.bool)
    for b in range(B):
        mask[b, order[b, : n[b]]] = True
    return torch.where(mask, torch.full_like(tokens, mask_id), tokens), mask


def main() -> None:
    manifest, state = load_state_dict_from_manifest(MODEL)
    cfg = config_from_dict(manifest["config"])
    spec = manifest["tokenizer"]
    assert spec["version"] == 1 and not spec["merges"], "the e2e tokenizer is byte-level v1"
    Lt, HW, K = cfg.text.max_len, cfg.grid * cfg.grid, cfg.codebook_size
    # word.ts tokenizerWithWord: the base as v2 with the word as its one known word (id = base vocab_size)
    tok = BPETokenizer([], Lt, words=[WORD], version=2)
    wid = tok.word_ids[WORD]
    assert wid == 259 and wid < cfg.text.vocab_size, "the word's row is an unused row of the e2e table"
    model = MMamba(cfg)
    model.load_state_dict(state)
    model.use_ref_scan = True
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    table_base = state["text.tok_emb.weight"].clone()
    init = table_base[:wid].double().mean(0).float()  # initialWordVector

    o = OPTIONS
    B = o["batchSize"]
    text_ids = torch.stack([torch.tensor(tok.encode(c), dtype=torch.long) for c in CAPTIONS])
    assert [int((r == wid).sum()) for r in text_ids] == [1, 1, 0, 1]
    tokens = (torch.arange(B * HW) * 7 + torch.arange(B * HW) // 5).remainder(K).view(B, HW).long()
    empty = torch.zeros(Lt, dtype=torch.long)
    empty[0], empty[1] = 1, 2

    row, m, v = init.clone(), torch.zeros_like(init), torch.zeros_like(init)
    steps, dropped_any = [], False
    b1, b2 = o["betas"]
    for step in range(STEPS):
        lr = lr_at(o, step)
        text = drop_text(text_ids, empty, o["textDropout"], o["seed"], step)
        dropped_any |= bool((text != text_ids).any())
        inp, mask = training_mask(tokens, cfg.codebook_size, o["seed"], step)
        table = table_base.clone()
        table[wid] = row
        table.requires_grad_(True)
        logits = torch.func.functional_call(model, {"text.tok_emb.weight": table}, (inp, text))
        loss = masked_token_loss(logits, tokens, mask)
        loss.backward()
        g = table.grad[wid].clone()
        norm = float(g.double().norm())
        coef = min(1.0, o["gradClip"] / (norm + 1e-6))
        gc = g * coef
        m = b1 * m + (1 - b1) * gc
        v = b2 * v + (1 - b2) * gc * gc
        t = step + 1
        row = row - lr * (m / (1 - b1**t)) / (torch.sqrt(v / (1 - b2**t)) + o["eps"])
        steps.append(
            {
                "lr": lr,
                "loss": float(loss.detach()),
                "gradNorm": norm,
                "clipCoef": coef,
                "textIds": text.flatten().tolist(),
                "mask": mask.int().flatten().tolist(),
                "grad": g.tolist(),
                "row": row.tolist(),
                "m": m.tolist(),
                "v": v.tolist(),
            }
        )
    assert dropped_any, "pick a seed whose text dropout drops a row in some step"
    assert any(s["clipCoef"] < 1 for s in steps) and any(s["clipCoef"] == 1 for s in steps), "clip in some steps only"
    fixture = {
        "format": "mmamba-fixture",
        "formatVersion": 1,
        "kind": "inversion",
        "model": "e2e/fixtures/models/mmamba-e2e",
        "notes": "training/make_inversion_fixture.py: textual inversion steps (src/finetune/inversion.ts) in PyTorch",
        "word": WORD,
        "wordId": wid,
        "captions": CAPTIONS,
        "options": o,
        "textIds": text_ids.flatten().tolist(),
        "tokens": tokens.flatten().tolist(),
        "init": init.tolist(),
        "steps": steps,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"))
        f.write("\n")
    for i, s in enumerate(steps):
        print(f"step {i + 1}: lr {s['lr']:.4f} loss {s['loss']:.6f} |g| {s['gradNorm']:.6f} clip {s['clipCoef']:.3f}")
    print(f"-> {OUT} ({os.path.getsize(OUT)} bytes)")
    lora_prior_step(steps[-1]["row"])


# The LoRA phase with prior preservation (FineTuner.step; DEFAULT_FINETUNE_OPTIONS' betas, eps; decay on).
LORA_OPTIONS = {
    "batchSize": 4,
    "lr": 0.01,
    "warmupSteps": 0,
    "totalSteps": 2,
    "schedule": "cosine",
    "minLrRatio": 0.1,
    "betas": [0.9, 0.95],
    "eps": 1e-8,
    "gradClip": 1.0,
    "textDropout": 0.1,
    "seed": 7,
    "weightDecay": 0.01,
}
LORA_RANK, LORA_ALPHA = 2, 4.0
PAIR_CAPTIONS = ["a zorblat", "zorblat, flat emoji"]
PRIOR_PROMPTS = ["red apple", "house"]  # control prompts (src/finetune/defaults.ts DRIFT_CONTROL_PROMPTS)
LAYER_TARGETS = ["in_proj.weight", "out_proj.weight", "mod.proj.weight"]  # 'in_proj', 'out_proj', 'mod'
TEXT_BLOCK = ["attn.qkv.weight", "attn.out.weight", "mlp.0.weight", "mlp.2.weight"]  # 'text_layers'


def lora_prior_step(word_row: list[float]) -> None:
    manifest, state = load_state_dict_from_manifest(MODEL)
    cfg = config_from_dict(manifest["config"])
    Lt, HW, K = cfg.text.max_len, cfg.grid * cfg.grid, cfg.codebook_size
    tok = BPETokenizer([], Lt, words=[WORD], version=2)
    wid = tok.word_ids[WORD]
    state["text.tok_emb.weight"][wid] = torch.tensor(word_row)  # the base with the learned word (pivotal)
    model = MMamba(cfg)
    model.load_state_dict(state)
    model.use_ref_scan = True
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    params = dict(model.named_parameters())
    names = [f"layers.{i}.{p}" for i in range(cfg.layers) for p in LAYER_TARGETS]
    names += ["head.weight", "text.proj.weight", "text.pool_proj.weight"]
    names += [f"text.layers.{j}.{p}" for j in range(cfg.text.layers) for p in TEXT_BLOCK]
    g = torch.Generator().manual_seed(11)
    factors = {}
    for n in names:
        out_f, in_f = params[n].shape
        A = (torch.rand(LORA_RANK, in_f, generator=g) * 2 - 1) / in_f**0.5
        B = (torch.rand(out_f, LORA_RANK, generator=g) * 2 - 1) * 0.05
        factors[n] = [A, B]
    init = {n: {"A": A.flatten().tolist(), "B": B.flatten().tolist()} for n, (A, B) in factors.items()}
    o = LORA_OPTIONS
    text_ids = torch.stack([torch.tensor(tok.encode(c), dtype=torch.long) for c in PAIR_CAPTIONS + PRIOR_PROMPTS])
    B_ = o["batchSize"]
    tokens = (torch.arange(B_ * HW) * 5 + 3).remainder(K).view(B_, HW).long()
    tokens[2:] = (torch.arange(2 * HW) * 11 + 1).remainder(K).view(2, HW)  # the prior rows' "base renders"
    empty = torch.zeros(Lt, dtype=torch.long)
    empty[0], empty[1] = 1, 2
    scale = LORA_ALPHA / LORA_RANK
    b1, b2 = o["betas"]
    # per factor pair: [m_A, m_B, v_A, v_B]
    moments = {n: [torch.zeros_like(A), torch.zeros_like(B)] * 2 for n, (A, B) in factors.items()}
    steps = []
    for step in range(o["totalSteps"]):
        lr = lr_at(o, step)
        text = drop_text(text_ids, empty, o["textDropout"], o["seed"], step)
        inp, mask = training_mask(tokens, K, o["seed"], step)
        leaves = {n: (A.clone().requires_grad_(True), B.clone().requires_grad_(True)) for n, (A, B) in factors.items()}
        merged = {n: params[n] + scale * (B @ A) for n, (A, B) in leaves.items()}
        logits = torch.func.functional_call(model, merged, (inp, text))
        loss = masked_token_loss(logits, tokens, mask)
        loss.backward()
        norm = math.sqrt(sum(float(t.grad.double().pow(2).sum()) for ab in leaves.values() for t in ab))
        coef = min(1.0, o["gradClip"] / (norm + 1e-6))
        t = step + 1
        for n, (A, B) in leaves.items():
            mo = moments[n]
            new = []
            for k, (p, gr) in enumerate([(A.detach(), A.grad), (B.detach(), B.grad)]):
                gc = gr * coef
                mo[k] = b1 * mo[k] + (1 - b1) * gc
                mo[k + 2] = b2 * mo[k + 2] + (1 - b2) * gc * gc
                upd = (mo[k] / (1 - b1**t)) / (torch.sqrt(mo[k + 2] / (1 - b2**t)) + o["eps"])
                new.append(p * (1 - lr * o["weightDecay"]) - lr * upd)
            factors[n] = new
        steps.append(
            {
                "lr": lr,
                "loss": float(loss.detach()),
                "gradNorm": norm,
                "clipCoef": coef,
                "textIds": text.flatten().tolist(),
                "mask": mask.int().flatten().tolist(),
            }
        )
    fixture = {
        "format": "mmamba-fixture",
        "formatVersion": 1,
        "kind": "lora-prior-step",
        "model": "e2e/fixtures/models/mmamba-e2e",
        "notes": "training/make_inversion_fixture.py: FineTuner steps (src/finetune/trainer.ts) with prior rows",
        "word": WORD,
        "wordId": wid,
        "wordRow": word_row,
        "rank": LORA_RANK,
        "alpha": LORA_ALPHA,
        "targets": ["in_proj", "out_proj", "mod", "head", "text", "text_layers"],
        "params": names,
        "pairCaptions": PAIR_CAPTIONS,
        "priorPrompts": PRIOR_PROMPTS,
        "options": o,
        "textIds": text_ids.flatten().tolist(),
        "tokens": tokens.flatten().tolist(),
        "init": init,
        "steps": steps,
        "final": {n: {"A": A.flatten().tolist(), "B": B.flatten().tolist()} for n, (A, B) in factors.items()},
    }
    with open(OUT_LORA, "w") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"))
        f.write("\n")
    for i, s in enumerate(steps):
        print(f"lora+prior step {i + 1}: lr {s['lr']:.4f} loss {s['loss']:.6f} |g| {s['gradNorm']:.6f}", end=" ")
        print(f"clip {s['clipCoef']:.3f}")
    print(f"-> {OUT_LORA} ({os.path.getsize(OUT_LORA)} bytes)")


if __name__ == "__main__":
    main()
