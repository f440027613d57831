"""The network's and the SAEs' weights as the page's board lab reads them (vis/js/weights.js).

One little-endian binary file per model: its tensors one after another, each starting on a
4-byte boundary. Tensors of F16_MIN elements or more (the blocks' and the SAEs' matrices, where
the bytes are) are float16; the rest float32: the embedding and the heads (~60 KB) in float16
would double the policy error (max |dp| 9e-4 instead of 5e-4 on 1000 test positions of the shipped
network; tests/test_vis_lab.py checks the in-page pass against PyTorch's float32 one), and a
JumpReLU threshold rounded to float16 would move which features fire. The index entry
`{file, bytes, tensors: {name: {dtype, offset, shape}}}` says where each tensor is; offsets are
in bytes, in the decoded file. The file is stored ENCODING: its 2-byte words split into a plane
of low bytes then a plane of high bytes, gzipped (float16's high bytes, sign, exponent and two
mantissa bits, compress well: 14% smaller for the shipped network, which keeps the default
pipeline's data under 10 MB); the page undoes both (DecompressionStream, vis/js/weights.js).
What the page computes from them:

    network (alphazero/network.py): x = embed(planes mine|theirs); per block x += fc2 relu(fc1 LN(x));
        policy logits, W/D/L logits = heads(LN_f(x)); LayerNorm eps LN_EPS
    SAE (sae/export.py, folded, raw activations): f = act((x - b_dec) @ W_enc + b_enc), by architecture
"""
import gzip
import hashlib

import numpy as np
import torch

DTYPES = {"f16": np.dtype("<f2"), "f32": np.dtype("<f4")}  # the names the page knows (vis/js/weights.js)
ALIGN = 4
F16_MIN = 1 << 16  # elements: a tensor this large is stored as float16
ENCODING = "shuffle2+gzip"  # how the file is stored (the page checks the name)
LN_EPS = 1e-5  # torch.nn.LayerNorm's default, which alphazero/network.py uses


class WeightsError(ValueError):
    """Weights that cannot be written faithfully (NaN/inf, or beyond float16's range)."""


def pack(tensors, where):
    """{name: tensor or array} -> (bytes, {name: {dtype, offset, shape}}); float16 from F16_MIN elements."""
    parts, meta, offset = [], {}, 0
    for name, t in tensors.items():
        a = t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float32)
        dtype = "f16" if a.size >= F16_MIN else "f32"
        with np.errstate(over="ignore"):  # beyond float16's range becomes inf, refused just below
            b = a.astype(DTYPES[dtype])
        if not np.isfinite(b).all():
            raise WeightsError(f"{where}: tensor '{name}' is not finite in {dtype} (NaN/inf, or beyond float16's range)")
        raw = b.tobytes()
        raw += bytes(-len(raw) % ALIGN)
        meta[name] = {"dtype": dtype, "offset": offset, "shape": list(a.shape)}
        parts.append(raw)
        offset += len(raw)
    return b"".join(parts), meta


def encode(buf):
    """The decoded file -> as stored: byte planes of its 2-byte words (low, high), gzipped (reproducible: no mtime)."""
    a = np.frombuffer(buf, np.uint8)
    return gzip.compress(np.concatenate([a[0::2], a[1::2]]).tobytes(), 6, mtime=0)


def decode(data):
    """The inverse of encode (tests read the files with it)."""
    a = np.frombuffer(gzip.decompress(data), np.uint8)
    out = np.empty_like(a)
    out[0::2], out[1::2] = a[:len(a) // 2], a[len(a) // 2:]
    return out.tobytes()


def unpack(buf, meta):
    """The inverse of pack: {name: float32 array} (tests check the files with it)."""
    out = {}
    for name, m in meta.items():
        dt = DTYPES[m["dtype"]]
        n = int(np.prod(m["shape"])) if m["shape"] else 1
        out[name] = np.frombuffer(buf, dt, n, m["offset"]).astype(np.float32).reshape(m["shape"])
    return out


def net_tensors(net):
    """The tensors of alphazero/network.py's forward pass, by their state_dict names (no training-only heads)."""
    sd = net.state_dict()
    names = ["embed.weight", "embed.bias"]
    for i in range(net.cfg.n_blocks):
        names += [f"blocks.{i}.{p}" for p in ("ln.weight", "ln.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")]
    names += ["ln_f.weight", "ln_f.bias", "policy_head.weight", "policy_head.bias", "value_head.weight", "value_head.bias"]
    return {n: sd[n] for n in names}


def net_entry(net, file, where):
    """(stored bytes, index entry) for the network: shape, sites and where each tensor is."""
    buf, meta = pack(net_tensors(net), where)
    c = net.cfg
    return encode(buf), {"file": file, "encoding": ENCODING, "bytes": len(buf), "sha256": hashlib.sha256(buf).hexdigest(), "d_model": c.d_model,
                 "n_blocks": c.n_blocks, "d_hidden": c.d_hidden, "ln_eps": LN_EPS, "sites": list(net.sites),
                 "tensors": meta}


def sae_entry(module, file, where):
    """(stored bytes, index entry) for a folded SAE (sae.export.load_sae): its SAELens tensors and encoder settings."""
    buf, meta = pack(module.tensors(), where)
    return encode(buf), {"file": file, "encoding": ENCODING, "bytes": len(buf), "architecture": module.architecture,
                 "apply_b_dec_to_input": bool(module.apply_b_dec_to_input),
                 "k": None if module.k is None else int(module.k), "tensors": meta}
