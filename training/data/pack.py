"""Stage 2 of `npm run data`: turns the PNG renders staged by build_dataset.mjs into the final pack via
mmamba.data.store_item / write_pack (palette-reduced lossless WebP for colour art, 4-level masks, colour
names of every recolour variant measured on the stored pixels, compact index.json), then prints the counts:
drawings, concepts, drawings per concept (median and distribution), per set, storage PSNR, pack size,
split sizes, evaluation item counts and the demo concepts. Usage: python training/data/pack.py STAGE_DIR OUT_DIR
The result is a pure function of the stage (worker processes only parallelise store_item)."""

import io
import json
import os
import sys
import time
from collections import Counter
from multiprocessing import get_context

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mmamba import data as D  # noqa: E402

PACK_BUDGET_BYTES = 24_000_000  # index.json + images.bin must fit with the repository in a 64 MiB transfer


def _load(args):
    kind, png = args
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    return px if kind == "emoji" else np.ascontiguousarray(px[..., 3])


def _store(args):
    kind, png = args
    return D.store_item({"kind": kind, "pixels": _load(args)})


def distribution(per: list[int]) -> str:
    bins = [(1, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, 10**9)]
    return ", ".join(f"{a}{'+' if b > 10**8 else f'-{b}'}: {sum(a <= x <= b for x in per)}" for a, b in bins)


def main(stage: str, out: str) -> None:
    t0 = time.time()
    with open(os.path.join(stage, "stage.json")) as f:
        st = json.load(f)
    with open(os.path.join(stage, "stage.bin"), "rb") as f:
        blob = f.read()
    jobs = [(it["kind"], blob[it["offset"] : it["offset"] + it["length"]]) for it in st["items"]]
    workers = max(1, min(int(os.environ.get("MMAMBA_PACK_WORKERS", os.cpu_count() or 1)), 8))
    if workers > 1 and len(jobs) > 256:
        with get_context("fork").Pool(workers) as pool:
            stored = pool.map(_store, jobs, chunksize=64)
    else:
        stored = [_store(j) for j in jobs]
    print(f"[data] stored {len(stored)} drawings ({workers} workers, {time.time() - t0:.1f} s)", flush=True)
    set_is_emoji = {s: bool(v.get("emoji")) for s, v in st["sources"].items()}
    items = [dict(it, emoji=set_is_emoji.get(it["set"], it["kind"] == "emoji"), pixels=None) for it in st["items"]]
    index = D.write_pack(items, out, st.get("sources"), concepts=st["concepts"], stored=stored)

    # ---- counts
    p = D.Pack(out, seed=0)
    per_concept = Counter(b["concept"] for b in p.bases)
    per = sorted(per_concept.values())
    median = float(np.median(per)) if per else 0.0
    print(
        f"[data] drawings {len(p.bases)}, concepts {len(per_concept)}, drawings per concept: median {median:g}, "
        f"mean {np.mean(per) if per else 0:.1f} ({distribution(per)})"
    )
    sets = Counter(b["set"] for b in p.bases)
    print("[data] per set: " + ", ".join(f"{s} {n}" for s, n in sorted(sets.items())))
    styles = Counter(b["style"] for b in p.bases)
    print("[data] per style: " + ", ".join(f"{s} {n}" for s, n in sorted(styles.items())))
    sto = index["storage"]
    print(
        f"[data] storage: colour {sto['colour_bytes'] / 1e6:.2f} MB ({sto['colour']}; PSNR mean "
        f"{sto['colour_psnr_mean']} dB, 10th percentile {sto['colour_psnr_p10']} dB, min {sto['colour_psnr_min']} dB), "
        f"masks {sto['mask_bytes'] / 1e6:.2f} MB ({sto['mask']})"
    )
    counts = Counter((p.split_of[i], p.bases[e.base]["kind"]) for i, e in enumerate(p.entries))
    print(
        f"[data] {len(p.entries)} derived images; "
        + "; ".join(
            f"{s}: {len(p.splits[s])} (colour {counts[(s, 'emoji')]}, scenes {counts[(s, 'icon')]})"
            for s in ("train", "val", "test")
        )
    )
    para = D.paraphrase_prompts(p)
    forms = Counter(x["form"] for x in para)
    print(
        f"[data] evaluation: paraphrase prompts {len(para)} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(forms.items()))}); "
        + ", ".join(f"{k} {len(D.ruler_items(p, k))}" for k in D.RULER_KINDS)
    )
    print("[data] paraphrase examples:", [x["prompt"] for x in para[:12]])
    names = set(per_concept)
    print(f"[data] demo concepts present: {sorted(names & D.DEMO_CONCEPTS)}; absent: {sorted(D.DEMO_CONCEPTS - names)}")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in ("index.json", "images.bin"))
    over = "" if size <= PACK_BUDGET_BYTES else f"  ** over the {PACK_BUDGET_BYTES / 1e6:.0f} MB budget **"
    print(
        f"[data] pack size {size / 1e6:.2f} MB "
        f"(index.json {os.path.getsize(os.path.join(out, 'index.json')) / 1e6:.2f} MB)"
        f"{over}; pack.py took {time.time() - t0:.1f} s"
    )
    print("[data] test prompts:", D.test_prompts(8, root=out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python training/data/pack.py STAGE_DIR OUT_DIR")
    main(sys.argv[1], sys.argv[2])
