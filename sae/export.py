"""SAE folders: SAELens layout (`cfg.json`, `sae_weights.safetensors`) plus our `metrics.json`.

    cfg.json                 SAELens >= 6 inference config: architecture, d_in, d_sae, dtype, device,
                             apply_b_dec_to_input, normalize_activations, reshape_activations, k (topk),
                             metadata {sae_lens_version, hook_name, model_name, checkpoint_sha256, sae_arch, writer}
    sae_weights.safetensors  W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in];
                             jumprelu adds threshold [d_sae]; gated has b_gate, b_mag, r_mag instead of b_enc
    metrics.json             METRICS_FORMAT: name, site, arch (training architecture), architecture (SAELens),
                             d_in, d_sae, k, l1, checkpoint_sha256, eval_split, metrics (computed once, at
                             training, on the held-out split), feature_freq, sae (its SAEConfig), recipe
                             (sae.archs.recipe()), config (the run's full config tree, verbatim)

The input scale and the decoder norms are folded in (decoder rows have unit norm), so
    f = act((x - b_dec) @ W_enc + b_enc),   x_hat = f @ W_dec + b_dec
on raw activations x. `load_sae` returns the same architecture classes training uses
(sae/archs.py) and refuses, with a one-line error naming the folder and the key, any cfg.json
setting it cannot honour. Loading reads JSON and safetensors only (no pickle).
"""
import importlib.metadata
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from othello.atomic import atomic_replace_dir, atomic_write_json
from sae.archs import ARCHS, CLASSES, TOPK_FAMILY, SAEConfig, recipe
from sae.config import EVAL_SPLIT

# Written as cfg.json's metadata.sae_lens_version: the cfg.json LAYOUT we target, not the library that
# wrote the file (this toolkit did; see metadata.writer). SAELens >= 6 reads this field to choose the
# layout, and converts a missing or older version as a pre-6.0 config, which ours is not.
SAELENS_LAYOUT_VERSION = "6.0.0"
FROM_SAELENS = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu", "gated": "gated"}  # -> our class
SAELENS_TENSORS = {a: CLASSES[c].saelens_tensors for a, c in FROM_SAELENS.items()}
METRICS_FORMAT = "othello-sae-metrics/1"
MODEL_NAME = "othello6x6-alphazero"
DTYPES = ("float32", "float16", "bfloat16", "float64", "torch.float32", "torch.float16", "torch.bfloat16",
          "torch.float64")  # declared weight dtypes; we compute in float32 whatever the file declares
CFG_KEYS = {"architecture", "d_in", "d_sae", "dtype", "device", "apply_b_dec_to_input", "normalize_activations",
            "reshape_activations", "rescale_acts_by_decoder_norm", "k", "metadata"}
METRICS_KEYS = {"format": str, "writer": str, "name": str, "site": str, "arch": str, "architecture": str,
                "d_in": int, "d_sae": int, "k": (int, type(None)), "l1": (float, type(None)),
                "checkpoint_sha256": (str, type(None)), "eval_split": str, "metrics": dict,
                "feature_freq": (list, type(None)), "sae": dict, "recipe": dict, "config": dict}


class SAELoadError(ValueError):
    """An SAE folder that is missing, corrupt, or holds a setting this toolkit cannot honour."""


@torch.no_grad()
def from_saelens(architecture, tensors, k=None, apply_b_dec_to_input=True):
    """An SAE on raw activations from SAELens tensors {W_enc [D, F], W_dec [F, D], b_dec [D], ...}.

    The instance is of the class that implements `architecture` (batchtopk exports load as
    jumprelu), in eval mode, without gradients. Raises ValueError for a tensor set or shape
    that does not fit the architecture.
    """
    if architecture not in FROM_SAELENS:
        raise ValueError(f"unsupported SAELens architecture '{architecture}' (expected one of {sorted(FROM_SAELENS)})")
    names = SAELENS_TENSORS[architecture]
    if set(tensors) != set(names):
        raise ValueError(f"architecture '{architecture}' has tensors {sorted(names)}, got {sorted(tensors)}")
    d_in, d_sae = tensors["W_enc"].shape
    sae = CLASSES[FROM_SAELENS[architecture]](SAEConfig(FROM_SAELENS[architecture], d_in, d_sae, k=k or 0))
    for name in names:
        p = getattr(sae, name)
        if tuple(tensors[name].shape) != tuple(p.shape):
            raise ValueError(f"tensor '{name}' has shape {tuple(tensors[name].shape)}, expected {tuple(p.shape)}")
        p.copy_(tensors[name].float())
    sae.apply_b_dec_to_input = bool(apply_b_dec_to_input)
    sae.folded = True
    return sae.requires_grad_(False).eval()


@torch.no_grad()
def fold(sae):
    """A trained SAE (scaled inputs) -> the same encoder on RAW activations (scale 1, unit decoder rows)."""
    if sae.folded:
        return sae
    t = sae.raw_tensors()
    if "threshold" in t:
        t["threshold"] = t["threshold"].clamp_min(0)  # a BatchTopK threshold never estimated: plain ReLU
    return from_saelens(sae.saelens_arch, t, sae.cfg.k if sae.saelens_arch == "topk" else None,
                        sae.apply_b_dec_to_input).to(sae.W_dec.device)


def writer_name():
    try:
        return f"othello-sae-toolkit {importlib.metadata.version('othello-sae-toolkit')}"
    except importlib.metadata.PackageNotFoundError:  # running from a checkout that was not pip-installed
        return "othello-sae-toolkit (not installed)"


def export_sae(sae, folder, site, checkpoint_sha256=None, metrics=None, config=None, feature_freq=None):
    """Write `sae` (trained or already folded) as a SAELens folder plus metrics.json; returns the folded SAE.

    `metrics`: the evaluation results; `config`: the run's config tree (config.to_dict);
    `feature_freq`: per-feature firing frequency [d_sae] on the held-out split. The folder is
    written beside its target and swapped in whole, so a reader never sees half of it.
    """
    folded, folder = fold(sae), Path(folder)
    cfg = {"architecture": folded.architecture, "d_in": folded.d_in, "d_sae": folded.d_sae, "dtype": "float32",
           "device": "cpu", "apply_b_dec_to_input": folded.apply_b_dec_to_input, "normalize_activations": "none",
           "reshape_activations": "none",
           "metadata": {"sae_lens_version": SAELENS_LAYOUT_VERSION, "hook_name": site, "model_name": MODEL_NAME,
                        "checkpoint_sha256": checkpoint_sha256, "sae_arch": sae.arch, "writer": writer_name()}}
    if folded.k is not None:
        cfg["k"] = int(folded.k)
    record = {"format": METRICS_FORMAT, "writer": writer_name(), "name": folder.name, "site": site, "arch": sae.arch,
              "architecture": folded.architecture, "d_in": folded.d_in, "d_sae": folded.d_sae,
              "k": int(sae.cfg.k) if sae.arch in TOPK_FAMILY else None,
              "l1": None if sae.arch in TOPK_FAMILY else float(sae.cfg.l1), "checkpoint_sha256": checkpoint_sha256,
              "eval_split": EVAL_SPLIT, "metrics": dict(metrics or {}),
              "feature_freq": None if feature_freq is None else [float(f"{v:.6g}") for v in feature_freq],
              "sae": asdict(sae.cfg), "recipe": recipe(), "config": dict(config or {})}
    check_metrics(record, folder / "metrics.json")
    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():  # left by a writer that was killed
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(folded.tensors(), str(tmp / "sae_weights.safetensors"))
    atomic_write_json(tmp / "cfg.json", cfg)
    atomic_write_json(tmp / "metrics.json", record)
    atomic_replace_dir(tmp, folder)
    return folded


def _read_json(f, kind):
    if not f.is_file():
        raise SAELoadError(f"{f} is missing: {f.parent} is not an exported SAE folder")
    try:
        data = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SAELoadError(f"{f} is not a valid {kind} ({type(e).__name__}: {str(e).splitlines()[0][:100]})") from None
    if not isinstance(data, dict):
        raise SAELoadError(f"{f} must hold a JSON object, got {type(data).__name__}")
    return data


def _check_cfg(cfg, f):
    """The SAELens settings of cfg.json -> (architecture, d_in, d_sae, k, apply_b_dec_to_input,
    rescale_acts_by_decoder_norm); refuses the rest."""
    unknown = sorted(set(cfg) - CFG_KEYS)
    if unknown:
        raise SAELoadError(f"{f}: key '{unknown[0]}' is not a SAELens >= 6 inference setting this loader can honour")
    meta = cfg.get("metadata")
    version = meta.get("sae_lens_version") if isinstance(meta, dict) else None
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        major = None
    if major is None or major < 6:
        raise SAELoadError(f"{f}: metadata.sae_lens_version={version!r}: only the SAELens >= 6 cfg.json layout is read")
    try:
        arch, d_in, d_sae = cfg["architecture"], cfg["d_in"], cfg["d_sae"]
    except KeyError as e:
        raise SAELoadError(f"{f}: key {e} is missing") from None
    if arch not in FROM_SAELENS:
        raise SAELoadError(f"{f}: key 'architecture' is '{arch}', which this loader cannot honour "
                           f"(supported: {', '.join(sorted(FROM_SAELENS))})")
    for key, value in (("d_in", d_in), ("d_sae", d_sae)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SAELoadError(f"{f}: key '{key}' must be a positive integer, got {value!r}")
    honoured = {"normalize_activations": "none", "reshape_activations": "none"}
    for key, only in honoured.items():
        if key in cfg and cfg[key] != only:
            raise SAELoadError(f"{f}: key '{key}' is {cfg[key]!r}; this loader honours only {only!r}")
    # SAELens's TopK: pre-activations times ||W_dec_i||, codes divided by it before decoding (its trainer
    # default, and it writes true even after folding the norms into the weights); load_sae folds it exactly
    rescale = cfg.get("rescale_acts_by_decoder_norm", False)
    if not isinstance(rescale, bool) or (rescale and arch != "topk"):
        raise SAELoadError(f"{f}: key 'rescale_acts_by_decoder_norm' is {rescale!r}; this loader honours true "
                           f"only for architecture 'topk' (SAELens's TopK), else false")
    apply_b_dec = cfg.get("apply_b_dec_to_input", True)  # SAELens's default
    if not isinstance(apply_b_dec, bool):
        raise SAELoadError(f"{f}: key 'apply_b_dec_to_input' must be true or false, got {apply_b_dec!r}")
    if "dtype" in cfg and cfg["dtype"] not in DTYPES:
        raise SAELoadError(f"{f}: key 'dtype' is {cfg['dtype']!r}; expected one of {', '.join(DTYPES[:4])}")
    k = cfg.get("k")
    if arch == "topk" and not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= d_sae):
        raise SAELoadError(f"{f}: key 'k' must be an integer in 1..d_sae for a topk SAE, got {k!r}")
    if arch != "topk" and "k" in cfg:
        raise SAELoadError(f"{f}: key 'k' has no meaning for architecture '{arch}' (only topk has k)")
    return arch, d_in, d_sae, k, apply_b_dec, rescale


def load_sae(folder, device="cpu"):
    """Load a SAELens folder as an SAE on raw activations (sae.archs classes; eval mode, no gradients).

    The result has encode(x_BD) -> f_BF, decode(f_BF) -> x_hat_BD, forward(x_BD) -> (x_hat_BD, f_BF),
    tensors W_enc [D, F], W_dec [F, D], b_dec [D] (and the architecture's others), d_in, d_sae,
    architecture (SAELens name), arch (the class: relu, topk, jumprelu, gated) and k (topk; else None).
    """
    folder = Path(folder)
    cfg_file, w_file = folder / "cfg.json", folder / "sae_weights.safetensors"
    arch, d_in, d_sae, k, apply_b_dec, rescale = _check_cfg(_read_json(cfg_file, "SAE config"), cfg_file)
    if not w_file.is_file():
        raise SAELoadError(f"{w_file} is missing: {folder} is not an exported SAE folder")
    try:
        t = load_file(str(w_file))
    except (SafetensorError, OSError, ValueError) as e:
        raise SAELoadError(f"{w_file} is not a readable safetensors file ({str(e).splitlines()[0][:100]})") from None
    shapes = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_in), "b_dec": (d_in,), "r_mag": (d_sae,)}
    for name in SAELENS_TENSORS[arch]:
        if name not in t:
            raise SAELoadError(f"{w_file} lacks tensor '{name}' required by architecture '{arch}'")
        shape = shapes.get(name, (d_sae,))
        if tuple(t[name].shape) != shape:
            raise SAELoadError(f"{w_file}: tensor '{name}' has shape {tuple(t[name].shape)}, cfg.json implies {shape}")
    extra = sorted(set(t) - set(SAELENS_TENSORS[arch]))
    if extra:
        raise SAELoadError(f"{w_file}: tensor '{extra[0]}' is not part of architecture '{arch}' and cannot be honoured")
    if rescale:  # topk: (pre * n) -> top-k -> (f / n) @ W_dec  ==  pre' = pre * n with W_dec' = W_dec / n, exactly
        n_F = t["W_dec"].float().norm(dim=1)
        if not bool((n_F > 0).all()):
            raise SAELoadError(f"{w_file}: tensor 'W_dec' has a zero row, so 'rescale_acts_by_decoder_norm' cannot be folded")
        t = {**t, "W_enc": t["W_enc"].float() * n_F, "b_enc": t["b_enc"].float() * n_F, "W_dec": t["W_dec"].float() / n_F[:, None]}
    return from_saelens(arch, t, k, apply_b_dec).to(device)


def check_metrics(m, f):
    """Raise SAELoadError unless `m` is a metrics.json record of METRICS_FORMAT (exact keys and types)."""
    if m.get("format") != METRICS_FORMAT:
        raise SAELoadError(f"{f} has format {m.get('format')!r}, expected '{METRICS_FORMAT}'")
    if set(m) != set(METRICS_KEYS):
        odd = sorted(set(m) ^ set(METRICS_KEYS))
        raise SAELoadError(f"{f}: key '{odd[0]}' is {'missing' if odd[0] in METRICS_KEYS else 'not a metrics.json key'}")
    for key, tp in METRICS_KEYS.items():
        if not isinstance(m[key], tp) or (isinstance(m[key], bool) and tp is not bool):
            raise SAELoadError(f"{f}: key '{key}' has the wrong type ({type(m[key]).__name__})")
    if m["arch"] not in ARCHS:
        raise SAELoadError(f"{f}: arch '{m['arch']}' is not one of {', '.join(ARCHS)}")
    if (m["k"] is None) != (m["arch"] not in TOPK_FAMILY) or (m["l1"] is None) != (m["arch"] in TOPK_FAMILY):
        raise SAELoadError(f"{f}: a {m['arch']} SAE has {'k' if m['arch'] in TOPK_FAMILY else 'l1'} and no "
                           f"{'l1' if m['arch'] in TOPK_FAMILY else 'k'}; got k={m['k']}, l1={m['l1']}")
    if m["feature_freq"] is not None and len(m["feature_freq"]) != m["d_sae"]:
        raise SAELoadError(f"{f}: feature_freq has {len(m['feature_freq'])} entries, d_sae is {m['d_sae']}")
    return m


def load_metrics(folder):
    """The validated metrics.json of an SAE folder (METRICS_FORMAT; see the module doc)."""
    f = Path(folder) / "metrics.json"
    return check_metrics(_read_json(f, "SAE metrics file"), f)
