"""Read what the viewer is built from: the activation store, the SAE sweep, the network.

* the activation store (`runs/acts`): `sae.activations.ActivationStore`, one split of it;
* one SAE folder (SAELens layout: `cfg.json`, `sae_weights.safetensors`, `metrics.json`):
  `sae.export.load_sae`, whose errors name the broken file;
* the sweep's `scaling.json` (sae/report.py: {"format", ..., "runs": [...]}), flattened
  into rows of {name, architecture, d_sae, l0, fvu, ...} for the scaling plots. Older or
  hand-written files (a bare list of runs, metrics nested under keys) are read too.
"""
import hashlib
import json
from pathlib import Path

import torch

from sae.activations import ActivationStore
from sae.export import load_sae

SPARSITY_KEYS = ["k", "l1_coefficient", "l1_coeff", "l1", "sparsity_coefficient", "l0_coefficient",
                 "target_l0", "lambda", "lam"]


# --------------------------------------------------------------------- store
class Store:
    """The rows of one split of an activation store, as numpy arrays (memory-mapped)."""

    def __init__(self, path, split):
        self.path = Path(path)
        self._store = ActivationStore(self.path)  # validates manifest, shapes and dtypes
        self.manifest = self._store.manifest
        # a fingerprint of the exact store: its manifest bytes (which name the checkpoint and row counts)
        self.fingerprint = hashlib.sha256((self.path / "manifest.json").read_bytes()).hexdigest()
        self.split = split
        self.start, self.stop = self._store.split_rows(split)
        self.count = self.stop - self.start

    def acts(self, site):
        """[count, d_model] activations of the split (memmap, float16 or float32)."""
        return self._store.acts(site, self.split)

    def array(self, name):
        """One per-position array of the split (boards, mover, ply, legal, policy, value, ...)."""
        return self._store.array(name, self.split)


# ----------------------------------------------------------------------- SAE
class SAE:
    """One SAE folder: config, metrics, weights (numpy) and an encoder on raw activations."""

    def __init__(self, folder, device="cpu"):
        self.folder = Path(folder)
        self.name = self.folder.name
        self.module = load_sae(self.folder, device)  # FoldedSAE; raises SAELoadError naming the problem
        self.cfg = json.loads((self.folder / "cfg.json").read_text())
        metrics_file = self.folder / "metrics.json"
        self.metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        self.weights = {k: v.numpy() for k, v in self.module.tensors().items()}
        # the training architecture (relu, topk, batchtopk, ...) is more telling than the SAELens one
        self.architecture = str(self.metrics.get("sae_arch") or (self.cfg.get("metadata") or {}).get("sae_arch")
                                or self.cfg["architecture"])
        self.d_in, self.d_sae = self.module.d_in, self.module.d_sae
        self.site = (self.cfg.get("metadata") or {}).get("hook_name") or self.metrics.get("site")
        self.device = device

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
        return self.module.encode(x.to(self.device, torch.float32)).float()


def find_saes(sae_dir):
    """Folders under `sae_dir` that hold an exported SAE, sorted by name."""
    sae_dir = Path(sae_dir)
    if not sae_dir.is_dir():
        return []
    return sorted(p for p in sae_dir.iterdir() if (p / "cfg.json").is_file() and (p / "sae_weights.safetensors").is_file())


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
           "architecture": find_text(run, ["sae_arch", "arch", "architecture"]),
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
