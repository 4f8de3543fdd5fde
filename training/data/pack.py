"""Stage 2 of `npm run data`: turns the PNG renders staged by build_dataset.mjs into the final pack
(lossless WebP + index.json with precomputed recolour colour names) via mmamba.data.write_pack, then
prints per-split / per-style counts. Usage: python training/data/pack.py STAGE_DIR OUT_DIR"""
import io
import json
import os
import sys
import time
from collections import Counter

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mmamba import data as D  # noqa: E402


def main(stage: str, out: str) -> None:
    t0 = time.time()
    with open(os.path.join(stage, "stage.json")) as f:
        st = json.load(f)
    with open(os.path.join(stage, "stage.bin"), "rb") as f:
        blob = f.read()
    items = []
    for it in st["items"]:
        im = Image.open(io.BytesIO(blob[it["offset"]:it["offset"] + it["length"]])).convert("RGBA")
        px = np.asarray(im)
        it = dict(it, pixels=px if it["kind"] == "emoji" else np.ascontiguousarray(px[..., 3]))
        items.append(it)
    D.write_pack(items, out, st.get("sources"))
    p = D.Pack(out, seed=0)
    counts = Counter((p.split_of[i], p.bases[e.base]["style"]) for i, e in enumerate(p.entries))
    styles = sorted({s for _, s in counts})
    print(f"[data] {len(p.entries)} derived images from {len(p.bases)} bases, "
          f"{len({b['concept'] for b in p.bases})} concepts")
    for s in ("train", "val", "test"):
        row = ", ".join(f"{st_}: {counts[(s, st_)]}" for st_ in styles)
        print(f"[data]   {s}: {len(p.splits[s])} ({row})")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in ("index.json", "images.bin"))
    print(f"[data] pack size {size / 1e6:.2f} MB; pack.py took {time.time() - t0:.1f} s")
    print("[data] test prompts:", D.test_prompts(8, root=out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
