"""A folder written by SAELens itself (tests/data/saelens_topk) loads with sae.export.load_sae and computes
SAELens's formula; sae.metrics.evaluate runs on it.

The fixture: a TopK SAE (d_in 256, d_sae 64, k 8) trained for 200 steps of 1024 rows of resid.2 by
sae-lens 6.54.12's own TopKTrainingSAE / SAETrainer and saved with its save_inference_model:
    /work/venv-saelens/bin/python bench/saelens_side.py train --store runs/acts --arch topk \
        --d-sae 64 --k 8 --steps 200 --batch 1024 --out tests/data/saelens_topk
(then only cfg.json and sae_weights.safetensors kept). SAELens writes rescale_acts_by_decoder_norm: true
(its TopK trainer default) although it has already folded the decoder norms into the weights.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np

from sae.export import SAELoadError, load_sae
from sae.metrics import evaluate

FIXTURE = Path(__file__).parent / "data" / "saelens_topk"


def saelens_topk_numpy(t, cfg, x):
    """SAELens TopKSAE.encode / decode (sae_lens/saes/topk_sae.py) in plain numpy, float64."""
    W_enc, b_enc, W_dec, b_dec = (t[n].astype(np.float64) for n in ("W_enc", "b_enc", "W_dec", "b_dec"))
    sae_in = x - b_dec if cfg["apply_b_dec_to_input"] else x
    pre = sae_in @ W_enc + b_enc
    norm = np.linalg.norm(W_dec, axis=1)
    if cfg.get("rescale_acts_by_decoder_norm"):
        pre = pre * norm
    idx = np.argpartition(-pre, cfg["k"] - 1, axis=1)[:, :cfg["k"]]  # top-k (unsorted), then ReLU
    f = np.zeros_like(pre)
    np.put_along_axis(f, idx, np.maximum(np.take_along_axis(pre, idx, 1), 0), 1)
    acts = f / norm if cfg.get("rescale_acts_by_decoder_norm") else f
    return f, acts @ W_dec + b_dec


def inputs(t, n=512, seed=0):
    """Rows like the residual stream it was trained on: around b_dec, at its scale."""
    rng = np.random.default_rng(seed)
    b_dec = t["b_dec"].astype(np.float64)
    return b_dec + rng.normal(size=(n, len(b_dec))) * np.abs(b_dec).mean()


def check_matches(folder):
    cfg = json.loads((folder / "cfg.json").read_text())
    t = load_np(str(folder / "sae_weights.safetensors"))
    x = inputs(t)
    f_ref, x_hat_ref = saelens_topk_numpy(t, cfg, x)
    sae = load_sae(folder)
    with torch.no_grad():
        f = sae.encode(torch.from_numpy(x).float()).double().numpy()
        x_hat = sae.decode(torch.from_numpy(f).float()).double().numpy()
    scale = np.abs(f_ref).max()
    assert np.abs(f - f_ref).max() <= 1e-4 * scale
    assert np.abs(x_hat - x_hat_ref).max() <= 1e-4 * np.abs(x_hat_ref).max()
    assert ((f > 0).sum(1) <= cfg["k"]).all() and (f > 0).sum() > 0
    return sae, x


def test_fixture_is_a_real_saelens_topk_folder():
    cfg = json.loads((FIXTURE / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and (cfg["d_in"], cfg["d_sae"], cfg["k"]) == (256, 64, 8)
    assert cfg["metadata"]["sae_lens_version"].startswith("6.") and cfg["rescale_acts_by_decoder_norm"] is True
    t = load_np(str(FIXTURE / "sae_weights.safetensors"))
    assert {n: v.shape for n, v in t.items()} == {"W_enc": (256, 64), "b_enc": (64,), "W_dec": (64, 256), "b_dec": (256,)}


def test_load_sae_computes_saelens_formula():
    sae, _ = check_matches(FIXTURE)
    assert (sae.architecture, sae.k, sae.d_in, sae.d_sae) == ("topk", 8, 256, 64)


def test_rescale_by_decoder_norm_is_folded_exactly(tmp_path):
    """Decoder rows that are NOT unit norm (SAELens before folding): the rescaling must still be honoured."""
    folder = tmp_path / "unfolded"
    shutil.copytree(FIXTURE, folder)
    t = load_np(str(folder / "sae_weights.safetensors"))
    c = np.random.default_rng(1).uniform(0.2, 3.0, size=(t["W_dec"].shape[0], 1)).astype(np.float32)
    save_np({**t, "W_dec": t["W_dec"] * c, "W_enc": t["W_enc"] / c.T, "b_enc": t["b_enc"] / c[:, 0]},
            str(folder / "sae_weights.safetensors"))
    check_matches(folder)


def test_metrics_evaluate_runs_on_the_folder():
    sae = load_sae(FIXTURE)
    x = inputs(load_np(str(FIXTURE / "sae_weights.safetensors")), n=2000, seed=2).astype(np.float32)
    m = evaluate(sae, x, batch_size=512)
    assert m["n_eval"] == 2000 and 0 < m["l0"] <= 8 and np.isfinite(m["fvu"]) and 0 <= m["dead_frac"] <= 1


@pytest.mark.parametrize("arch_key, value", [("jumprelu", True), ("topk", "yes")])
def test_rescale_flag_refused_where_it_cannot_be_honoured(arch_key, value, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(FIXTURE, folder)
    cfg = json.loads((folder / "cfg.json").read_text())
    cfg["rescale_acts_by_decoder_norm"] = value
    if arch_key == "jumprelu":
        cfg.pop("k")
        cfg["architecture"] = "jumprelu"
        t = load_np(str(folder / "sae_weights.safetensors"))
        save_np({**t, "threshold": np.zeros(64, np.float32)}, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(SAELoadError) as e:
        load_sae(folder)
    msg = str(e.value)
    assert "\n" not in msg and "'rescale_acts_by_decoder_norm'" in msg and str(folder) in msg
