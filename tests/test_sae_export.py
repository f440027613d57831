"""Export: SAELens layout, scale/decoder-norm folding, load_sae on raw activations, load errors."""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from sae.archs import ARCHS, SAEConfig, make_sae
from sae.export import SAELoadError, export_sae, load_sae

LAYOUT = {"standard": {"W_enc", "b_enc", "W_dec", "b_dec"}, "topk": {"W_enc", "b_enc", "W_dec", "b_dec"},
          "jumprelu": {"W_enc", "b_enc", "W_dec", "b_dec", "threshold"},
          "gated": {"W_enc", "b_gate", "b_mag", "r_mag", "W_dec", "b_dec"}}


def trained_like(arch, d=16, f=48, seed=0):
    """An SAE with non-trivial weights: decoder norms != 1, biases and thresholds set, scale != 1."""
    torch.manual_seed(seed)
    sae = make_sae(SAEConfig(arch=arch, d_in=d, d_sae=f, k=6, seed=seed), scale=3.7, b_dec=torch.randn(d))
    with torch.no_grad():
        for name, p in sae.named_parameters():
            p.add_(0.1 * torch.randn_like(p))
        if arch not in ("topk", "batchtopk"):
            sae.W_dec.mul_(torch.rand(f, 1) + 0.5)
        sae.after_step()  # TopK family: back to unit-norm decoder rows, as after every training step
        if arch == "batchtopk":
            sae.threshold.fill_(0.3)
        if arch == "jumprelu":
            sae.threshold.uniform_(0.0, 0.5)
    return sae.eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_export_roundtrip_on_raw_activations(arch, tmp_path):
    sae = trained_like(arch)
    export_sae(sae, tmp_path / arch, "resid.2", "ab" * 32, {"fvu": 0.1}, {"steps": 1})
    loaded = load_sae(tmp_path / arch)
    x_raw = torch.randn(64, 16) * 2 + 1
    with torch.no_grad():
        s = sae.scale
        f = sae.encode(x_raw * s)
        ref_hat = sae.decode(f) / s  # in-memory SAE on raw x: scale in, unscale out
        f_loaded = loaded.encode(x_raw)
        assert torch.allclose(loaded.decode(f_loaded), ref_hat, atol=1e-4)
        # same features, each rescaled by ||W_dec_i|| / scale (unit-norm decoder rows after folding)
        assert torch.allclose(f_loaded, f * sae.W_dec.norm(dim=1) / s, atol=1e-4)
    assert (f > 0).any()


@pytest.mark.parametrize("arch", ARCHS)
def test_saelens_layout(arch, tmp_path):
    export_sae(trained_like(arch), tmp_path, "resid.2", "cd" * 32)
    cfg = json.loads((tmp_path / "cfg.json").read_text())
    t = load_file(str(tmp_path / "sae_weights.safetensors"))
    expect = {"relu": "standard", "topk": "topk", "batchtopk": "jumprelu", "jumprelu": "jumprelu", "gated": "gated"}[arch]
    assert cfg["architecture"] == expect and set(t) == LAYOUT[expect]
    assert cfg["d_in"] == 16 and cfg["d_sae"] == 48 and cfg["normalize_activations"] == "none"
    assert cfg["apply_b_dec_to_input"] is True and cfg["reshape_activations"] == "none" and cfg["dtype"] == "float32"
    assert cfg["metadata"]["hook_name"] == "resid.2" and int(cfg["metadata"]["sae_lens_version"].split(".")[0]) >= 6
    assert t["W_enc"].shape == (16, 48) and t["W_dec"].shape == (48, 16) and t["b_dec"].shape == (16,)
    assert torch.allclose(t["W_dec"].norm(dim=1), torch.ones(48), atol=1e-5)  # decoder norms folded
    if expect == "topk":
        assert cfg["k"] == 6
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["site"] == "resid.2" and metrics["checkpoint_sha256"] == "cd" * 32


def test_load_errors_are_one_line(tmp_path):
    folder = tmp_path / "sae"
    export_sae(trained_like("relu"), folder, "resid.2")
    w, c = folder / "sae_weights.safetensors", folder / "cfg.json"
    good_w, cfg = w.read_bytes(), json.loads(c.read_text())

    def error(match):
        with pytest.raises(SAELoadError, match=match) as e:
            load_sae(folder)
        assert "\n" not in str(e.value)

    c.write_text(json.dumps({**cfg, "d_in": 512}))  # cfg does not match the tensors
    error("'W_enc' has shape")
    c.write_text("{oops")
    error("not a valid SAE config")
    c.write_text(json.dumps(cfg))
    w.write_bytes(good_w[:100])  # truncated weights
    error("not a readable safetensors")
    save_file({"W_enc": torch.zeros(16, 48)}, str(w))
    error("lacks tensor")
    w.unlink()
    error("is missing")
