"""Read what the viewer is built from: the activation store, the SAE sweep, the network.

Three inputs, each read through one small function so that a better reader can
replace it without touching the rest of the generator:

* the activation store (`runs/acts`): `sae.activations.ActivationStore`, or where the
  sae package lacks it, the same files read with `np.load(mmap_mode='r')` per the store spec;
* one SAE folder (SAELens layout: `cfg.json`, `sae_weights.safetensors`,
  `metrics.json`): `sae.export.load_sae` to encode when it exists, else the
  encoder written out below; the decoder is always read from the safetensors file;
* the sweep's `scaling.json`, whose exact shape we do not rely on: any list or
  dict of runs is flattened into rows of {architecture, d_sae, l0, fvu, ...}.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

from alphazero.checkpoint import load_checkpoint, network_from_checkpoint

STORE_ARRAYS = ["boards", "mover", "ply", "legal", "game_id", "policy", "value"]
SPARSITY_KEYS = ["k", "l1_coefficient", "l1_coeff", "l1", "sparsity_coefficient", "l0_coefficient",
                 "target_l0", "lambda", "lam"]


# --------------------------------------------------------------------- store
class Store:
    """The rows of one split of an activation store, as numpy arrays (memory-mapped)."""

    def __init__(self, path, split):
        self.path = Path(path)
        manifest_file = self.path / "manifest.json"
        if not manifest_file.is_file():
            raise FileNotFoundError(f"no activation store at {self.path} (manifest.json missing); "
                                    f"collect one with: python othello/collect_activations.py --out {self.path}")
        self.manifest = json.loads(manifest_file.read_text())
        # a fingerprint of the exact store: its manifest bytes (which name the checkpoint and row counts)
        self.fingerprint = hashlib.sha256(manifest_file.read_bytes()).hexdigest()
        splits = self.manifest["splits"]
        if split not in splits:
            raise ValueError(f"split '{split}' not in the store; it has {sorted(splits)}")
        self.split = split
        self.start, self.stop = (int(v) for v in splits[split])
        self.count = self.stop - self.start
        self._reader = _store_reader(self.path)

    def acts(self, site):
        """[count, d_model] activations of the split (memmap, any float dtype)."""
        if self._reader is not None:
            return self._reader.acts(site, self.split)
        return np.load(self.path / f"acts_{site}.npy", mmap_mode="r")[self.start:self.stop]

    def array(self, name):
        """One per-position array of the split (boards, mover, ply, legal, policy, value, ...)."""
        if self._reader is not None:
            return self._reader.array(name, self.split)
        return np.load(self.path / f"{name}.npy", mmap_mode="r")[self.start:self.stop]


def _store_reader(path):
    """The sae package's validating reader (its errors name the problem); None where it is absent."""
    try:
        from sae.activations import ActivationStore
    except ImportError:
        return None
    return ActivationStore(path)


# ----------------------------------------------------------------------- SAE
class SAE:
    """One SAE folder: config, metrics, decoder (numpy) and an encoder on raw activations."""

    def __init__(self, folder, device="cpu"):
        self.folder = Path(folder)
        self.name = self.folder.name
        self.cfg = json.loads((self.folder / "cfg.json").read_text())
        metrics_file = self.folder / "metrics.json"
        self.metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        self.weights = {k: v.astype(np.float32) for k, v in load_file(self.folder / "sae_weights.safetensors").items()}
        self.architecture = str(self.cfg.get("architecture", "standard"))
        self.d_in = int(self.cfg.get("d_in", self.weights["W_dec"].shape[1]))
        self.d_sae = int(self.cfg.get("d_sae", self.weights["W_dec"].shape[0]))
        meta = self.cfg.get("metadata") or {}
        self.site = meta.get("hook_name") or self.cfg.get("hook_name") or self.metrics.get("site")
        self.device = device
        self._encode = _external_encoder(self.folder, device) or _make_encoder(self.architecture, self.cfg, self.weights, device)

    @property
    def W_dec(self):
        return self.weights["W_dec"]  # [d_sae, d_in]

    def sparsity(self):
        """(name, value) of the knob that sets sparsity (k for TopK, L1 coefficient, ...), or (None, None)."""
        for source in (self.cfg, self.cfg.get("metadata") or {}, self.metrics, self.metrics.get("config") or {}):
            for key in SPARSITY_KEYS:
                if isinstance(source.get(key), (int, float)) and not isinstance(source.get(key), bool):
                    return key, source[key]
        return None, None

    @torch.inference_mode()
    def encode(self, x):
        """Raw activations [B, d_in] (tensor) -> feature activations [B, d_sae] float32."""
        return self._encode(x.to(self.device, torch.float32)).float()


def _external_encoder(folder, device):
    """`sae.export.load_sae(folder, device).encode` when the sae package provides it."""
    try:
        from sae.export import load_sae
    except ImportError:
        return None
    try:
        module = load_sae(folder, device)
    except Exception:  # an exporter mid-development must not stop the viewer: use our encoder
        return None
    return module.encode


def _make_encoder(arch, cfg, w, device):
    """The SAELens encoders, on raw activations: f = act((x - b_dec) @ W_enc + b_enc)."""
    t = {k: torch.from_numpy(v).to(device) for k, v in w.items()}
    W_enc, b_dec = t["W_enc"], t["b_dec"]
    if arch == "gated":
        W_mag = W_enc * torch.exp(t["r_mag"])

        def encode(x):
            xc = x - b_dec
            gate = (xc @ W_enc + t["b_gate"]) > 0
            return gate * torch.relu(xc @ W_mag + t["b_mag"])
        return encode
    b_enc = t["b_enc"]
    if arch == "jumprelu":
        return lambda x: _jump(((x - b_dec) @ W_enc + b_enc), t["threshold"])
    if arch == "topk":
        k = int(cfg.get("k") or (cfg.get("metadata") or {}).get("k"))

        def encode(x):
            pre = torch.relu((x - b_dec) @ W_enc + b_enc)
            vals, idx = pre.topk(k, dim=-1)
            return torch.zeros_like(pre).scatter_(-1, idx, vals)
        return encode
    if arch != "standard":
        raise ValueError(f"unknown SAE architecture '{arch}'")
    return lambda x: torch.relu((x - b_dec) @ W_enc + b_enc)


def _jump(pre, threshold):
    return pre * (pre > threshold)


def find_saes(sae_dir):
    """Folders under `sae_dir` that hold an exported SAE, sorted by name."""
    sae_dir = Path(sae_dir)
    if not sae_dir.is_dir():
        return []
    return sorted(p for p in sae_dir.iterdir() if (p / "cfg.json").is_file() and (p / "sae_weights.safetensors").is_file())


# ------------------------------------------------------------------- network
def load_net(checkpoint, device="cpu"):
    """The network whose activations the store holds."""
    return network_from_checkpoint(load_checkpoint(checkpoint), device)


# ------------------------------------------------------------------- scaling
METRIC_ALIASES = {
    "l0": ["l0", "L0", "mean_l0"],
    "fvu": ["fvu", "FVU", "val_fvu", "test_fvu"],
    "mse": ["mse", "MSE", "val_mse", "test_mse"],
    "dead_frac": ["dead_frac", "dead_fraction", "frac_dead", "dead"],
    "dead_pct": ["dead_pct", "dead_percent", "pct_dead"],
    "delta_loss": ["delta_loss", "policy_kl", "kl", "ce_loss_increase"],
}


def flatten_runs(scaling):
    """Any list/dict of runs -> list of dict rows (each a run). Unknown shapes give []."""
    if isinstance(scaling, list):
        return [r for r in scaling if isinstance(r, dict)]
    if isinstance(scaling, dict):
        for key in ("runs", "saes", "results", "sweep"):
            if isinstance(scaling.get(key), list):
                return flatten_runs(scaling[key])
        values = list(scaling.values())
        if values and all(isinstance(v, dict) for v in values):  # {name: run}
            return [{"name": k, **v} for k, v in scaling.items()]
    return []


def find_value(obj, aliases, depth=0):
    """The first numeric value under any alias, looking into nested dicts (metrics, config, ...)."""
    if not isinstance(obj, dict) or depth > 3:
        return None
    for a in aliases:
        v = obj.get(a)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    for v in obj.values():
        if isinstance(v, dict):
            found = find_value(v, aliases, depth + 1)
            if found is not None:
                return found
    return None


def find_text(obj, keys, depth=0):
    if not isinstance(obj, dict) or depth > 3:
        return None
    for k in keys:
        if isinstance(obj.get(k), str):
            return obj[k]
    for v in obj.values():
        found = find_text(v, keys, depth + 1)
        if found is not None:
            return found
    return None


def scaling_row(run):
    """One run (scaling.json entry or metrics.json + cfg.json) -> a flat row for the scaling plots."""
    row = {"name": find_text(run, ["name", "run", "id"]),
           "architecture": find_text(run, ["architecture", "arch"]),
           "site": find_text(run, ["site", "hook_name"])}
    d_sae = find_value(run, ["d_sae", "n_features", "features", "dict_size"])
    row["d_sae"] = int(d_sae) if d_sae is not None else None
    for key, aliases in METRIC_ALIASES.items():
        row[key] = find_value(run, aliases)
    if row["dead_frac"] is None and row["dead_pct"] is not None:
        row["dead_frac"] = row["dead_pct"] / 100
    row.pop("dead_pct")
    if row["dead_frac"] is not None and row["dead_frac"] > 1:  # given as a percentage under a neutral name
        row["dead_frac"] /= 100
    for key in SPARSITY_KEYS:
        v = find_value(run, [key])
        if v is not None:
            row["sparsity_key"], row["sparsity"] = key, v
            break
    return row


def read_scaling(sae_dir):
    """Rows from `scaling.json` if present and readable; [] otherwise."""
    f = Path(sae_dir) / "scaling.json"
    try:
        return [scaling_row(r) for r in flatten_runs(json.loads(f.read_text()))]
    except (OSError, ValueError):
        return []
