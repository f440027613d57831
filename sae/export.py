"""SAELens-compatible export and loading of SAEs that work on RAW activations.

Folder layout: `cfg.json`, `sae_weights.safetensors`, `metrics.json` (ours: site,
checkpoint sha256, metrics, training config). Tensors: W_enc [d_in, d_sae],
b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]; JumpReLU adds threshold [d_sae];
gated has b_gate, b_mag, r_mag instead of b_enc. The input scale factor and the
decoder norms are folded in (decoder rows have unit norm), so
    f = act((x - b_dec) @ W_enc + b_enc),   x_hat = f @ W_dec + b_dec
on raw activations x, and cfg.json says normalize_activations = "none".
Loading reads JSON and safetensors only (no pickle).
"""
import json
import os
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

SAELENS_VERSION = "6.0.0"
BIASES = {"standard": ["b_enc"], "topk": ["b_enc"], "jumprelu": ["b_enc", "threshold"], "gated": ["b_gate", "b_mag", "r_mag"]}


class SAELoadError(ValueError):
    """An SAE folder that is missing, corrupt, or inconsistent with its cfg.json."""


class FoldedSAE(nn.Module):
    """Inference-only SAE on raw activations, in SAELens's parameterisation."""

    def __init__(self, architecture, tensors, k=None):
        super().__init__()
        self.architecture, self.k = architecture, k
        for name, t in tensors.items():
            self.register_buffer(name, t.float().contiguous())
        self.d_in, self.d_sae = self.W_enc.shape

    def encode(self, x_BD):
        sae_in = x_BD.float() - self.b_dec
        if self.architecture == "gated":
            proj = sae_in @ self.W_enc
            return (proj + self.b_gate > 0) * torch.relu(proj * torch.exp(self.r_mag) + self.b_mag)
        pre = sae_in @ self.W_enc + self.b_enc
        if self.architecture == "topk":
            vals, idx = pre.topk(self.k, dim=-1)
            return torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))
        if self.architecture == "jumprelu":
            return torch.relu(pre) * (pre > self.threshold)
        return torch.relu(pre)

    def decode(self, f_BF):
        return f_BF.float() @ self.W_dec + self.b_dec

    def forward(self, x_BD):
        f = self.encode(x_BD)
        return self.decode(f), f

    def tensors(self):
        return {n: b.detach().cpu().contiguous() for n, b in self.named_buffers()}


@torch.no_grad()
def fold(sae):
    """Training SAE (scaled inputs) -> FoldedSAE on raw activations."""
    t = sae.raw_tensors()
    if "threshold" in t:
        t["threshold"] = t["threshold"].clamp_min(0)  # a BatchTopK threshold never estimated: plain ReLU
    return FoldedSAE(sae.saelens_arch, t, sae.saelens_extra().get("k")).to(sae.W_dec.device)


def _atomic_write(path, write):
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def export_sae(sae, folder, site, checkpoint_sha256=None, metrics=None, train_config=None, extra_metadata=None):
    """Write `sae` (a training SAE or a FoldedSAE) as a SAELens folder plus metrics.json; returns the FoldedSAE."""
    folded = sae if isinstance(sae, FoldedSAE) else fold(sae)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"architecture": folded.architecture, "d_in": folded.d_in, "d_sae": folded.d_sae, "dtype": "float32",
           "device": "cpu", "apply_b_dec_to_input": True, "normalize_activations": "none",
           "reshape_activations": "none",
           "metadata": {"sae_lens_version": SAELENS_VERSION, "hook_name": site, "model_name": "othello6x6-alphazero",
                        "checkpoint_sha256": checkpoint_sha256, **(extra_metadata or {})}}
    if folded.k is not None:
        cfg["k"] = int(folded.k)
    _atomic_write(folder / "sae_weights.safetensors", lambda p: save_file(folded.tensors(), str(p)))
    _atomic_write(folder / "cfg.json", lambda p: p.write_text(json.dumps(cfg, indent=1)))
    m = {"site": site, "architecture": folded.architecture, "d_in": folded.d_in, "d_sae": folded.d_sae,
         "checkpoint_sha256": checkpoint_sha256, **(metrics or {}), "config": train_config or {}}
    _atomic_write(folder / "metrics.json", lambda p: p.write_text(json.dumps(m, indent=1)))
    return folded


def load_sae(folder, device="cpu"):
    """Load an exported SAE folder as a FoldedSAE (encode/decode on raw activations)."""
    folder = Path(folder)
    cfg_file, w_file = folder / "cfg.json", folder / "sae_weights.safetensors"
    for f in (cfg_file, w_file):
        if not f.is_file():
            raise SAELoadError(f"{f} is missing: {folder} is not an exported SAE folder")
    try:
        cfg = json.loads(cfg_file.read_text())
        arch, d_in, d_sae = cfg["architecture"], int(cfg["d_in"]), int(cfg["d_sae"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as e:
        raise SAELoadError(f"{cfg_file} is not a valid SAE config ({type(e).__name__}: {e})") from None
    if arch not in BIASES:
        raise SAELoadError(f"{cfg_file}: unsupported architecture '{arch}' (expected one of {sorted(BIASES)})")
    if cfg.get("normalize_activations", "none") != "none":
        raise SAELoadError(f"{cfg_file}: normalize_activations='{cfg['normalize_activations']}' is not supported (expected 'none')")
    try:
        t = load_file(str(w_file))
    except (SafetensorError, OSError, ValueError) as e:
        raise SAELoadError(f"{w_file} is not a readable safetensors file ({str(e).splitlines()[0][:100]})") from None
    shapes = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_in), "b_dec": (d_in,), **{b: (d_sae,) for b in BIASES[arch]}}
    for name, shape in shapes.items():
        if name not in t:
            raise SAELoadError(f"{w_file} lacks tensor '{name}' required by architecture '{arch}'")
        if tuple(t[name].shape) != shape:
            raise SAELoadError(f"{w_file}: tensor '{name}' has shape {tuple(t[name].shape)}, cfg.json implies {shape}")
    k = cfg.get("k")
    if arch == "topk" and not isinstance(k, int):
        raise SAELoadError(f"{cfg_file}: a topk SAE needs an integer 'k'")
    return FoldedSAE(arch, {n: t[n] for n in shapes}, k).to(device).eval()
