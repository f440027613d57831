"""Read what the viewer is built from, only through the readers of the modules that wrote it.

* the activation store: `sae.activations.ActivationStore`, its held-out split `sae.config.EVAL_SPLIT`;
* the sweep report: `sae.sweep_report.read_sweep_report` (every SAE of the sweep, its settings and
  the metrics computed once when it was trained, on EVAL_SPLIT);
* one SAE: `sae.export.load_sae` (weights, encoder) and `sae.export.load_metrics` (its metrics record);
* the sweep's concept evaluation and auto-interp labels: `sae.concept_eval.read_concepts` (`concepts.json`,
  optional: without it the viewer has no labels), and the science report's files (`sae.science_report`).

Each reader knows the one format its writer wrote. A missing or malformed field is a
SourceError naming the file; nothing is guessed and no value is filled in from elsewhere.
"""
import hashlib
import json
from pathlib import Path

import torch

from alphazero.checkpoint import file_sha256
from sae.activations import ActivationStore, ActivationStoreError
from sae.concept_eval import ConceptsError, read_concepts
from sae.config import EVAL_SPLIT
from sae.export import SAELoadError, load_metrics, load_sae
from sae.sweep_report import FILE as REPORT_FILE
from sae.sweep_report import SweepReportError, read_sweep_report

REQUIRED_METRICS = ("fvu", "l0", "dead_frac")  # what the landing page and the scaling plots show


class SourceError(ValueError):
    """An input of the viewer that is missing, malformed, or inconsistent (the message names the file)."""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------- store
class Store:
    """The held-out rows (split EVAL_SPLIT) of an activation store, as memory-mapped numpy arrays."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self._store = ActivationStore(self.path)  # validates manifest, shapes and dtypes
        except ActivationStoreError as e:
            raise SourceError(str(e)) from None
        self.manifest = self._store.manifest
        self.sites, self.total = self._store.sites, self._store.count
        self.fingerprint = fingerprint(self.path)
        self.split = EVAL_SPLIT
        self.start, self.stop = self._store.split_rows(self.split)
        self.count = self.stop - self.start

    def acts(self, site):
        """[count, d_model] activations of the split (memmap, float16 or float32)."""
        return self._store.acts(site, self.split)

    def array(self, name):
        """One per-position array of the split (boards, mover, ply, legal, policy, value, ...)."""
        return self._store.array(name, self.split)


def fingerprint(store_path):
    """sha256 of the store's manifest, which names the checkpoint, the sites and the row counts."""
    return file_sha256(Path(store_path) / "manifest.json")


# ---------------------------------------------------------------- the sweep
class Sweep:
    """The sweep report of `sweep_dir` (validated by its reader) and the runs the viewer shows."""

    def __init__(self, sweep_dir):
        self.dir = Path(sweep_dir)
        self.where = str(self.dir / REPORT_FILE)
        try:
            self.report = read_sweep_report(self.dir)
        except SweepReportError as e:
            raise SourceError(str(e)) from None
        self.runs = self.report["runs"]
        if not self.runs:
            raise SourceError(f"{self.where} lists no SAEs: train some with python train_sae.py --sae.out {self.dir}")
        for run in self.runs:
            check_metrics(run["metrics"], f"{self.where}: run '{run['name']}'")

    def concepts(self):
        """The concept evaluation of the sweep (read_concepts, plus its `file`), or None when it has none."""
        try:
            report = read_concepts(self.dir)
        except ConceptsError as e:
            raise SourceError(str(e)) from None
        return None if report is None else {**report, "file": str(self.dir / "concepts.json")}

    def select(self, only):
        """The runs named in the comma list `only` ('' = all); an unknown name is an error."""
        if not only:
            return self.runs
        want = [n for n in only.split(",") if n]
        known = {r["name"] for r in self.runs}
        unknown = [n for n in want if n not in known]
        if unknown:
            raise SourceError(f"{self.where} has no run named {', '.join(unknown)} (it has {', '.join(sorted(known))})")
        return [r for r in self.runs if r["name"] in want]


def check_metrics(metrics, where):
    """The metrics the viewer shows must be there, as numbers (NaN allowed: shown as '–')."""
    for key in REQUIRED_METRICS:
        if not _number(metrics.get(key)):
            raise SourceError(f"{where}: metric '{key}' is {metrics.get(key)!r}, expected a number")
    return metrics


# ----------------------------------------------------------------------- SAE
class SAE:
    """One run of the sweep: its SAE (encoder on raw activations), its metrics and its report entry."""

    def __init__(self, sweep, run, device="cpu"):
        self.name, self.site, self.arch = run["name"], run["site"], run["arch"]
        self.k, self.l1 = run["k"], run["l1"]
        self.folder = sweep.dir / run["folder"]
        try:
            self.module = load_sae(self.folder, device)
            record = load_metrics(self.folder)
        except SAELoadError as e:
            raise SourceError(str(e)) from None
        check_finite(self.module, self.folder / "sae_weights.safetensors")
        where = self.folder / "metrics.json"
        self.metrics = check_metrics(record["metrics"], str(where))  # computed once, at training
        self.fingerprint = fingerprint_of(record)
        self.d_in, self.d_sae = int(self.module.d_in), int(self.module.d_sae)
        for key in ("site", "arch", "d_sae"):
            if record[key] != run[key]:
                raise SourceError(f"{sweep.where}: run '{self.name}' has {key} {run[key]!r}, but {where} says "
                                  f"{record[key]!r}: the folder is not the SAE the report describes")
        if self.d_sae != run["d_sae"]:
            raise SourceError(f"{sweep.where}: run '{self.name}' has d_sae {run['d_sae']}, but the weights in "
                              f"{self.folder} have {self.d_sae} features")
        self.device = device
        self.W_dec = self.module.W_dec.detach().float().cpu().numpy()  # [d_sae, d_in]

    def labels(self, concepts):
        """(this SAE's auto-interp entry {summary, features} of the concepts report, None) or (None, why not).

        Labels of other weights (the SAE was retrained after the concept evaluation) are refused:
        a label that describes another feature is worse than none."""
        if concepts is None:
            return None, None
        where = concepts["file"]
        entry, weights = concepts["autointerp"].get(self.name), concepts["saes"].get(self.name)
        if entry is None:
            return None, f"{where} has no rules for SAE {self.name}"
        if weights["weights_sha256"] != weights_fingerprint(self.folder) or weights["d_sae"] != self.d_sae:
            return None, (f"{where} was computed from other weights of SAE {self.name} (retrained since?): "
                          f"rerun python -m sae.concept_eval --sae.out {self.folder.parent}")
        return entry, None

    def shown_metrics(self):
        """The metrics as the page shows them: all but sae/concepts.py's per-feature labels (the viewer's labels
        are the auto-interp rules of concepts.json, one source; see labels())."""
        return {k: v for k, v in self.metrics.items() if k != "concepts"}

    @torch.inference_mode()
    def encode(self, x):
        """Raw activations [B, d_in] (tensor) -> feature activations [B, d_sae] float32."""
        return self.module.encode(x.to(self.device, torch.float32)).float()


def check_finite(module, where):
    """NaN or inf anywhere in the weights is an error naming the file and the tensor: such an SAE encodes
    to NaN, which would be drawn as a dead feature, so it is refused rather than shown wrong."""
    for name, t in module.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise SourceError(f"{where}: tensor '{name}' holds {bad} NaN/inf value{'s' if bad > 1 else ''} "
                              f"of {t.numel()}: retrain or re-export this SAE")


def fingerprint_of(obj):
    """sha256 of plain JSON data (an SAE's metrics record), to tell when viewer data is stale."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def weights_fingerprint(folder):
    """sha256 of an SAE folder's weights file (SAELens layout), to tell when viewer data is stale."""
    return file_sha256(Path(folder) / "sae_weights.safetensors")
