"""Export weights for the browser: public/models/<id>/manifest.json + safetensors shards (<= 16 MiB each).

Safetensors layout (huggingface/safetensors, format spec): u64 little-endian header length N, N bytes of
UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}} padded with spaces
to a multiple of 8, then the byte buffer, fully covered by the tensors without holes. We write it
ourselves (no dependency) and order tensors f32, then f16, then int8 inside a shard so that every tensor
starts at a multiple of its element size (typed-array views in the browser need that).

Manifest layout: docs/architecture.md ("Weights on the wire"). int8 (`--int8`): 2-D weights with at
least `int8_min_numel` elements are stored as symmetric per-output-channel (per-row) int8 with an f16
scale tensor `<name>.scale` of shape [rows]; w ~= q * scale, |w - q*scale| <= scale/2 per element.

Text word prior (text_encoder.py): a generator trained with a frozen word-vector table is exported with its
effective embedding table, text.tok_emb.weight = cat(tok_emb, word_proj(word_vectors)) (vocab_size, w), and a
text config with prior_words = prior_dim = 0 (prior_name / prior_sha256 stay as a record), so the browser
gathers rows as from any table; with --int8 that table is quantised per row like every large 2-D weight. The
table file comes from --prior, else training/prior/<prior_name>.npz; its sha256 must match the checkpoint's.
A tensor is never split across shards, so the table must fit one: vocab_size * w * 2 bytes in f16 (w = 128:
at most ~65,000 ids), about half that with --int8; a larger one stops with ShardTooLargeError.

A stage directory (stage.py: EMA weights, large 2-D weights as per-row int8, prior not baked) exports like a
checkpoint: its weights are dequantised, the prior baked, the kind's "-stage" suffix dropped, and "extra" records
{"source": "stage", "stage", "step", "images", "checkpoint", "ema"}. With --int8 the stage's int8 rows come back
bit for bit (a row's maximum is q = 127 times its f16 scale, so the scale and every q are found again; rows whose
scale is an f16 subnormal, below 6.1e-5, may move by a step) and f16 tensors are unchanged; only the baked word rows,
which go through the stage's int8 word_proj, differ from the checkpoint's export (model M stage 2: by at most 0.0061,
2.6 of their own int8 steps; tests/test_export_stage.py states the bound).

CLI:  python -m mmamba.export --ckpt training/runs/vq --out public/models/vq-s --id vq-s [--int8] [--prior PATH]
      python -m mmamba.export --ckpt training/stages/mmamba-m --out /tmp/m-stage --id mmamba-m --int8
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import struct
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

FORMAT = "mmamba-weights"
FORMAT_VERSION = 1
MAX_SHARD_BYTES = 16 * 1024 * 1024

_ST_DTYPE = {"f32": "F32", "f16": "F16", "int8": "I8"}
_NP_DTYPE = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "I32": np.int32}
_ORDER = {"f32": 0, "f16": 1, "int8": 2}


class WeightIntegrityError(Exception):
    """A shard is missing, has the wrong size or sha256, or its header does not match the manifest."""


class ShardTooLargeError(Exception):
    """A single tensor does not fit in one shard; raise --max-shard-bytes or split the tensor."""


# ----------------------------------------------------------------------------- safetensors I/O
def safetensors_bytes(arrays: list[tuple[str, np.ndarray]], metadata: dict[str, str] | None = None) -> bytes:
    """Serialise named numpy arrays (in the given order) into one safetensors byte string."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    off = 0
    for name, a in arrays:
        dt = {
            np.dtype(np.float32): "F32",
            np.dtype(np.float16): "F16",
            np.dtype(np.int8): "I8",
            np.dtype(np.int32): "I32",
        }[a.dtype]
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)
    parts = [struct.pack("<Q", len(hj)), hj]
    parts += [np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes() for _, a in arrays]
    return b"".join(parts)


def parse_safetensors(buf: bytes) -> dict[str, np.ndarray]:
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = np.dtype(_NP_DTYPE[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(buf, dtype=dt, count=(e - b) // dt.itemsize, offset=base + b).reshape(info["shape"])
    return out


def _header_size(entries: list[tuple[str, str, list[int], int]]) -> int:
    """Upper bound of the padded header size for (name, dtype, shape, nbytes) entries."""
    header = {
        name: {"dtype": _ST_DTYPE[dt], "shape": shape, "data_offsets": [10**12, 10**12]}
        for name, dt, shape, _ in entries
    }
    header["__metadata__"] = {"format": "pt", "shard": "999999"}
    n = len(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    return 8 + n + 8


# ----------------------------------------------------------------------------- quantisation
def quantize_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row int8. w (R, C) f32 -> q (R, C) int8, scale (R,) f16 with w ~= q * scale."""
    w = w.astype(np.float32)
    amax = np.abs(w).max(axis=1)  # (R,)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float16)  # (R,) rounded to f16 first
    s32 = scale.astype(np.float32)[:, None]  # (R, 1)
    q = np.clip(np.rint(w / s32), -127, 127).astype(np.int8)  # (R, C)
    return q, scale


# ----------------------------------------------------------------------------- export
def to_numpy_state(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in state.items():
        if not torch.is_tensor(v) or not v.dtype.is_floating_point:
            continue  # index buffers etc. are recomputed by the engine from the config
        out[k] = v.detach().to("cpu", torch.float32).contiguous().numpy()
    return out


def export_weights(
    state: dict[str, Any],
    out_dir: str,
    model_id: str,
    kind: str,
    config: dict[str, Any],
    tokenizer: dict[str, Any] | None = None,
    dtype: str = "f16",
    int8: bool = False,
    int8_min_numel: int = 16384,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    f32_names: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write manifest.json + model-XXXXX.safetensors into out_dir; returns the manifest dict.

    state: name -> torch.Tensor or np.ndarray (float). dtype: "f16" or "f32" for non-quantised tensors;
    names in f32_names are always f32.
    """
    if dtype not in ("f16", "f32"):
        raise ValueError("dtype must be f16 or f32")
    arrays = {k: (v if isinstance(v, np.ndarray) else None) for k, v in state.items()}
    np_state = to_numpy_state({k: v for k, v in state.items() if torch.is_tensor(v)})
    np_state.update({k: v.astype(np.float32) for k, v in arrays.items() if v is not None})
    f32_names = set(f32_names)

    # (name, dtype, array) entries; int8 weights are followed by their scale.
    entries: list[tuple[str, str, np.ndarray, str | None]] = []
    for name in state.keys():
        if name not in np_state:
            continue
        a = np_state[name]
        if int8 and a.ndim == 2 and a.size >= int8_min_numel and name not in f32_names:
            q, s = quantize_int8(a)
            entries.append((name, "int8", q, name + ".scale"))
            entries.append((name + ".scale", "f16", s, None))
        elif name in f32_names or dtype == "f32":
            entries.append((name, "f32", a.astype(np.float32), None))
        else:
            entries.append((name, "f16", a.astype(np.float16), None))

    # Greedy packing in model order; a tensor and its scale stay in one shard.
    groups: list[list[tuple[str, str, np.ndarray, str | None]]] = []
    i = 0
    while i < len(entries):
        g = [entries[i]]
        if entries[i][3] is not None:
            g.append(entries[i + 1])
            i += 1
        groups.append(g)
        i += 1
    shards: list[list[tuple[str, str, np.ndarray, str | None]]] = [[]]

    def size_of(sh) -> int:
        return _header_size([(n, d, list(a.shape), a.nbytes) for n, d, a, _ in sh]) + sum(a.nbytes for _, _, a, _ in sh)

    for g in groups:
        if size_of(g) > max_shard_bytes:
            raise ShardTooLargeError(
                f"tensor {g[0][0]} ({size_of(g)} bytes with header) exceeds the shard limit "
                f"{max_shard_bytes}; use --int8 or a smaller model"
            )
        if shards[-1] and size_of(shards[-1] + g) > max_shard_bytes:
            shards.append([])
        shards[-1].extend(g)

    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.startswith("model-") and old.endswith(".safetensors"):
            os.remove(os.path.join(out_dir, old))
    tensors: dict[str, Any] = {}
    shard_list = []
    for si, sh in enumerate(shards):
        ordered = sorted(sh, key=lambda e: _ORDER[e[1]])  # stable: f32, f16, int8 keeps alignment
        data = safetensors_bytes([(n, a) for n, _, a, _ in ordered], {"format": "pt", "shard": str(si)})
        assert len(data) <= max_shard_bytes, (len(data), max_shard_bytes)
        fname = f"model-{si:05d}.safetensors"
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(data)
        shard_list.append({"file": fname, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        for n, d, a, sc in sh:
            t = {"shape": list(a.shape), "dtype": d, "shard": si}
            if sc is not None:
                t["scale"] = sc
            tensors[n] = t
    manifest = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "modelId": model_id,
        "kind": kind,
        "config": config,
        "tokenizer": tokenizer,
        "tensors": tensors,
        "shards": shard_list,
        "totalBytes": sum(s["bytes"] for s in shard_list),
    }
    if extra:
        manifest["extra"] = extra
    tmp = os.path.join(out_dir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "manifest.json"))
    return manifest


def load_manifest(
    path: str, verify: bool = True, dequantize: bool = True
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read manifest.json (path to it or its folder) and its shards; verify size + sha256.

    Returns (manifest, tensors) where tensors are float32 numpy arrays (int8 weights dequantised with their
    scales, and the `.scale` companions dropped) when dequantize=True, else the raw stored arrays.
    """
    mpath = os.path.join(path, "manifest.json") if os.path.isdir(path) else path
    root = os.path.dirname(mpath)
    with open(mpath) as f:
        manifest = json.load(f)
    if manifest.get("format") != FORMAT or manifest.get("formatVersion") != FORMAT_VERSION:
        raise WeightIntegrityError(f"{mpath}: not a {FORMAT} v{FORMAT_VERSION} manifest; re-export the model")
    raw: dict[str, np.ndarray] = {}
    for si, sh in enumerate(manifest["shards"]):
        fp = os.path.join(root, sh["file"])
        if not os.path.exists(fp):
            raise WeightIntegrityError(f"missing shard {fp}; re-export or re-download the model")
        with open(fp, "rb") as f:
            data = f.read()
        if verify:
            if len(data) != sh["bytes"]:
                raise WeightIntegrityError(f"{fp}: {len(data)} bytes, manifest says {sh['bytes']}")
            h = hashlib.sha256(data).hexdigest()
            if h != sh["sha256"]:
                raise WeightIntegrityError(f"{fp}: sha256 {h} does not match the manifest; the file is corrupt")
        for n, a in parse_safetensors(data).items():
            t = manifest["tensors"].get(n)
            if t is None or t["shard"] != si or list(a.shape) != t["shape"]:
                raise WeightIntegrityError(f"{fp}: tensor {n} does not match the manifest's tensor table")
            raw[n] = a
    missing = set(manifest["tensors"]) - set(raw)
    if missing:
        raise WeightIntegrityError(f"tensors listed but not stored: {sorted(missing)[:5]}")
    if not dequantize:
        return manifest, raw
    out: dict[str, np.ndarray] = {}
    scales = {t["scale"] for t in manifest["tensors"].values() if "scale" in t}
    for n, t in manifest["tensors"].items():
        if n in scales:
            continue
        a = raw[n]
        if t["dtype"] == "int8":
            out[n] = a.astype(np.float32) * raw[t["scale"]].astype(np.float32)[:, None]
        else:
            out[n] = a.astype(np.float32)
    return manifest, out


def load_state_dict_from_manifest(path: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    m, arrs = load_manifest(path)
    return m, {k: torch.from_numpy(np.array(v)) for k, v in arrs.items()}


def load_reference_generator(path: str):
    """(manifest, config, model) of an exported generator, dequantised as the browser's loader does, loaded strictly,
    in eval mode and (M-Mamba) on the sequential reference scan: what the golden fixtures compare the engine with."""
    from .config import config_from_dict
    from .mmamba import build_model

    m, state = load_state_dict_from_manifest(path)
    cfg = config_from_dict(m["config"])
    model = build_model(cfg).eval()
    model.load_state_dict(state)
    if hasattr(model, "use_ref_scan"):
        model.use_ref_scan = True
    return m, cfg, model


# ----------------------------------------------------------------------------- the text word prior
PRIOR_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "prior")


def bake_prior(
    state: dict[str, Any],
    config: dict[str, Any],
    prior: str | None = None,
    tokenizer: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, config) with the text encoder's word prior baked into an effective tok_emb table (see the module
    docstring); returned unchanged when the config's text section has no prior. Inputs are not modified."""
    from .text_encoder import PriorMismatchError, _sha_hex, read_prior

    text = (config or {}).get("text") or {}
    if not text.get("prior_words"):
        return state, config
    path = prior or os.path.join(PRIOR_DIR, f"{text.get('prior_name', '')}.npz")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"the model uses the word-vector table {text.get('prior_name')!r}; {path} is missing (pass --prior PATH)"
        )
    table = read_prior(path)
    recorded = _sha_hex(state["text.prior_sha256"]) if "text.prior_sha256" in state else text.get("prior_sha256")
    if recorded != table.sha256 or (len(table.words), table.vectors.shape[1]) != (
        text["prior_words"],
        text["prior_dim"],
    ):
        raise PriorMismatchError(
            f"{path} (sha256 {table.sha256[:16]}…, {len(table.words)} words) is not the table the "
            f"model was trained with ({text.get('prior_name')}, sha256 {str(recorded)[:16]}…, "
            f"{text['prior_words']} words)"
        )
    if tokenizer is not None and tokenizer.get("words") is not None and list(tokenizer["words"]) != table.words:
        raise PriorMismatchError(f"the tokenizer's words are not the words of {path}")
    out = {
        k: v
        for k, v in state.items()
        if k not in ("text.word_proj.weight", "text.word_proj.bias", "text.prior_sha256", "text.word_vectors")
    }
    with torch.no_grad():
        tok = torch.as_tensor(state["text.tok_emb.weight"]).float()  # (word_offset, w)
        words = torch.nn.functional.linear(
            torch.from_numpy(table.vectors),
            torch.as_tensor(state["text.word_proj.weight"]).float(),
            torch.as_tensor(state["text.word_proj.bias"]).float(),
        )  # (prior_words, w)
        out["text.tok_emb.weight"] = torch.cat([tok, words], 0)  # (vocab_size, w)
    cfg = json.loads(json.dumps(config))
    cfg["text"].update(prior_words=0, prior_dim=0, prior_name=table.name, prior_sha256=table.sha256)
    return out, cfg


# ----------------------------------------------------------------------------- CLI
class NotExportableError(ValueError):
    """--ckpt names neither a train checkpoint nor a stage directory."""


_ACCEPTS = "export.py takes a train_vq.py / train_gen.py run dir or ckpt-*.pt, or a stage dir (mmamba.stage)"


def read_source(ckpt: str, use_ema: bool = True) -> tuple[dict[str, Any], str, dict[str, Any], Any, dict[str, Any]]:
    """(state, kind, config, tokenizer, record for the export's "extra") of what --ckpt names: a train checkpoint
    (a ckpt-*.pt file, or a run dir: its latest one) or a stage directory (manifest.json of kind "<kind>-stage",
    read with stage.load_stage: EMA weights, int8 rows dequantised, word prior not baked). A directory holding a
    manifest.json is never read as anything but a stage, and one with both a stage and ckpt-*.pt is refused."""
    from .checkpoint import latest_checkpoint
    from .stage import STAGE_KIND_SUFFIX, NotAStageError, load_stage

    if os.path.basename(ckpt) == "manifest.json" and os.path.isfile(ckpt):
        ckpt = os.path.dirname(ckpt) or "."
    if os.path.isdir(ckpt):
        found = latest_checkpoint(ckpt)
        has_manifest = os.path.exists(os.path.join(ckpt, "manifest.json"))
        if has_manifest and found is not None:
            raise NotExportableError(f"{ckpt} holds both ckpt-*.pt and a manifest.json; {_ACCEPTS}, not both at once")
        if has_manifest:
            try:
                man, state = load_stage(ckpt)
            except NotAStageError as e:
                raise NotExportableError(f"{e}: neither a checkpoint nor a stage; {_ACCEPTS}") from e
            rec = man.get("extra") or {}
            if not use_ema and rec.get("ema"):
                raise NotExportableError(f"{ckpt}: a stage keeps only the EMA weights; --no-ema needs the checkpoint")
            extra = {
                "source": "stage",
                "stage": rec.get("stage"),
                "step": rec.get("step"),
                "images": rec.get("images"),
                "checkpoint": rec.get("source"),
                "ema": bool(rec.get("ema")),
            }
            return dict(state), man["kind"][: -len(STAGE_KIND_SUFFIX)], man["config"], man.get("tokenizer"), extra
        if found is None:
            raise NotExportableError(f"{ckpt}: no ckpt-*.pt and no manifest.json; {_ACCEPTS}")
        ckpt = found
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f"{ckpt}: no such file or directory; {_ACCEPTS}")
    try:
        st = torch.load(ckpt, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise NotExportableError(f"{ckpt}: not a torch checkpoint ({type(e).__name__}: {e}); {_ACCEPTS}") from e
    if not isinstance(st, dict) or "kind" not in (st.get("extra") or {}) or "model" not in st:
        raise NotExportableError(f"{ckpt}: not a train checkpoint (no model weights and extra.kind); {_ACCEPTS}")
    extra = st["extra"]
    ema = bool(use_ema and st.get("ema"))
    state = dict(st["ema"]["shadow"] if ema else st["model"])
    record = {"step": st["step"], "source": os.path.basename(ckpt), "ema": ema}
    return state, extra["kind"], extra["config"], extra.get("tokenizer"), record


CODEBOOK_NORM_TOL = 2e-3  # a unit row rounded to f16 has |norm - 1| < 2^-11 (each entry's relative rounding)


def export_checkpoint(
    ckpt: str,
    out_dir: str,
    model_id: str,
    int8: bool = False,
    use_ema: bool = True,
    dtype: str = "f16",
    max_shard_bytes: int = MAX_SHARD_BYTES,
    prior: str | None = None,
    int8_min_numel: int = 16384,
) -> dict[str, Any]:
    """Export a train_vq.py / train_gen.py checkpoint (a ckpt-*.pt file or a run dir: latest one) or a stage
    directory (read_source) as a browser model: the word prior baked in, the plain model kind."""
    state, kind, config, tokenizer, record = read_source(ckpt, use_ema)
    if kind == "vq" and "quant.codebook" in state:
        # Invariant for the engine: codebook rows are unit-norm, so decode input = codebook[token]. Rows already unit
        # to f16 precision are kept as they are: normalising f16-rounded rows again moves some by an ulp, so a VQ
        # re-exported after a decoder fine-tune would no longer encode to the token ids its generators learned.
        code = torch.as_tensor(state["quant.codebook"]).float()
        if (code.norm(dim=1) - 1).abs().max() > CODEBOOK_NORM_TOL:
            code = torch.nn.functional.normalize(code, dim=1)
        state["quant.codebook"] = code
    state, config = bake_prior(state, config, prior, tokenizer)
    return export_weights(
        state,
        out_dir,
        model_id,
        kind,
        config,
        tokenizer=tokenizer,
        dtype=dtype,
        int8=int8,
        int8_min_numel=int8_min_numel,
        max_shard_bytes=max_shard_bytes,
        extra=record,
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True, help="ckpt-*.pt, a run dir (latest checkpoint) or a stage dir")
    ap.add_argument("--out", required=True, help="public/models/<id>")
    ap.add_argument("--id", required=True)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--f32", action="store_true", help="store f32 instead of f16 (fixtures, debugging)")
    ap.add_argument("--no-ema", action="store_true")
    ap.add_argument("--max-shard-bytes", type=int, default=MAX_SHARD_BYTES)
    ap.add_argument(
        "--prior",
        default=None,
        help="word-vector table of a text encoder with a prior (default training/prior/<prior_name>.npz)",
    )
    a = ap.parse_args(argv)
    try:
        m = export_checkpoint(
            a.ckpt,
            a.out,
            a.id,
            int8=a.int8,
            use_ema=not a.no_ema,
            dtype="f32" if a.f32 else "f16",
            max_shard_bytes=a.max_shard_bytes,
            prior=a.prior,
        )
    except NotExportableError as e:
        raise SystemExit(f"error: {e}") from None
    load_manifest(a.out)  # verify what we wrote
    print(
        f"exported {a.id} ({m['kind']}): {len(m['tensors'])} tensors, {len(m['shards'])} shard(s), "
        f"{m['totalBytes'] / 1e6:.2f} MB -> {a.out}",
        flush=True,
    )


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
