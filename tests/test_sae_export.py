"""Export: SAELens layout, scale/decoder-norm folding, load_sae on raw activations, cfg.json flags, load errors."""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from sae.archs import ARCHS, TOPK_FAMILY, SAEConfig, make_sae
from sae.config import EVAL_SPLIT
from sae.export import SAELoadError, export_sae, fold, load_metrics, load_sae

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
        if arch not in TOPK_FAMILY:
            sae.W_dec.mul_(torch.rand(f, 1) + 0.5)
        sae.after_step()  # TopK family: back to unit-norm decoder rows, as after every training step
        if arch in ("batchtopk", "matryoshka"):
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
    expect = {"relu": "standard", "topk": "topk", "batchtopk": "jumprelu", "matryoshka": "jumprelu", "jumprelu": "jumprelu",
              "gated": "gated"}[arch]
    assert cfg["architecture"] == expect and set(t) == LAYOUT[expect]
    assert cfg["d_in"] == 16 and cfg["d_sae"] == 48 and cfg["normalize_activations"] == "none"
    assert cfg["apply_b_dec_to_input"] is (arch != "relu") and cfg["reshape_activations"] == "none" and cfg["dtype"] == "float32"
    assert cfg["metadata"]["hook_name"] == "resid.2" and int(cfg["metadata"]["sae_lens_version"].split(".")[0]) >= 6
    assert cfg["metadata"]["writer"].startswith("othello-sae-toolkit") and cfg["metadata"]["sae_arch"] == arch
    assert t["W_enc"].shape == (16, 48) and t["W_dec"].shape == (48, 16) and t["b_dec"].shape == (16,)
    assert torch.allclose(t["W_dec"].norm(dim=1), torch.ones(48), atol=1e-5)  # decoder norms folded
    if expect == "topk":
        assert cfg["k"] == 6
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["site"] == "resid.2" and metrics["checkpoint_sha256"] == "cd" * 32
    m = load_metrics(tmp_path)
    assert m == metrics and m["arch"] == arch and m["eval_split"] == EVAL_SPLIT and m["recipe"]["auxk_coef"] > 0
    assert (m["k"] == 6) == (arch in TOPK_FAMILY) and (m["l1"] is None) == (arch in TOPK_FAMILY)


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


def test_loaded_sae_is_the_training_class(tmp_path):
    """One encoder per architecture: the loaded SAE is an instance of the class that trained it."""
    for arch, cls in (("relu", "ReLUSAE"), ("topk", "TopKSAE"), ("jumprelu", "JumpReLUSAE"), ("gated", "GatedSAE"),
                      ("batchtopk", "JumpReLUSAE")):
        export_sae(trained_like(arch), tmp_path / arch, "resid.2")
        sae = load_sae(tmp_path / arch)
        assert type(sae).__name__ == cls and sae.d_in == 16 and sae.d_sae == 48 and sae.W_enc.shape == (16, 48)
        assert sae.W_dec.shape == (48, 16) and sae.b_dec.shape == (16,) and sae.k == (6 if arch == "topk" else None)
        x = torch.randn(8, 16)
        x_hat, f = sae(x)
        assert torch.equal(f, sae.encode(x)) and torch.allclose(x_hat, sae.decode(f))
        assert fold(sae) is sae  # already on raw activations


def write_saelens_folder(folder, arch, tensors, **cfg):
    """A SAELens-style folder written by hand (as another tool would), not through export_sae."""
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "sae_weights.safetensors"))
    d_in, d_sae = tensors["W_enc"].shape
    base = {"architecture": arch, "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu",
            "apply_b_dec_to_input": True, "normalize_activations": "none", "reshape_activations": "none",
            "metadata": {"sae_lens_version": "6.5.0", "hook_name": "resid.2"}}
    (folder / "cfg.json").write_text(json.dumps({**base, **cfg}))


def random_tensors(arch, d=12, f=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = {"W_enc": torch.randn(d, f, generator=g), "W_dec": torch.randn(f, d, generator=g),
         "b_dec": torch.randn(d, generator=g), "b_enc": 0.5 * torch.randn(f, generator=g)}
    if arch == "jumprelu":
        t["threshold"] = torch.rand(f, generator=g)
    if arch == "gated":
        del t["b_enc"]
        t.update(b_gate=torch.randn(f, generator=g), b_mag=torch.randn(f, generator=g), r_mag=0.1 * torch.randn(f, generator=g))
    return t


@pytest.mark.parametrize("arch", ["standard", "topk", "jumprelu", "gated"])
@pytest.mark.parametrize("apply_b_dec", [True, False])
def test_foreign_folder_encodes_by_the_saelens_formula(arch, apply_b_dec, tmp_path):
    """apply_b_dec_to_input is honoured: when false the encoder reads x itself, not x - b_dec."""
    t = random_tensors(arch)
    extra = {"k": 5} if arch == "topk" else {}
    write_saelens_folder(tmp_path / "s", arch, t, apply_b_dec_to_input=apply_b_dec, **extra)
    sae = load_sae(tmp_path / "s")
    x = torch.randn(64, 12) * 2
    sae_in = x - t["b_dec"] if apply_b_dec else x
    if arch == "gated":
        proj = sae_in @ t["W_enc"]
        f = (proj + t["b_gate"] > 0) * torch.relu(proj * torch.exp(t["r_mag"]) + t["b_mag"])
    else:
        pre = sae_in @ t["W_enc"] + t["b_enc"]
        if arch == "topk":
            vals, idx = pre.topk(5, dim=-1)
            f = torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))
        elif arch == "jumprelu":
            f = torch.relu(pre) * (pre > t["threshold"])
        else:
            f = torch.relu(pre)
    with torch.no_grad():
        assert torch.allclose(sae.encode(x), f, atol=1e-5)
        assert torch.allclose(sae.decode(f), f @ t["W_dec"] + t["b_dec"], atol=1e-5)
    assert (f > 0).any()
    if not apply_b_dec:  # export keeps the flag: the round trip encodes the same way
        export_sae(sae, tmp_path / "again", "resid.2")
        assert json.loads((tmp_path / "again" / "cfg.json").read_text())["apply_b_dec_to_input"] is False
        assert torch.allclose(load_sae(tmp_path / "again").encode(x), f, atol=1e-5)


@pytest.mark.parametrize("key, value", [("normalize_activations", "layer_norm"),
                                        ("normalize_activations", "expected_average_only_in"),
                                        ("rescale_acts_by_decoder_norm", True), ("reshape_activations", "hook_z"),
                                        ("architecture", "matryoshka_batchtopk"), ("apply_b_dec_to_input", "yes"),
                                        ("use_error_term", True), ("k", 5)])
def test_foreign_flags_that_cannot_be_honoured_are_refused(key, value, tmp_path):
    write_saelens_folder(tmp_path / "s", "standard", random_tensors("standard"), **{key: value})
    with pytest.raises(SAELoadError) as e:
        load_sae(tmp_path / "s")
    msg = str(e.value)
    assert "\n" not in msg and f"'{key}'" in msg and str(tmp_path / "s") in msg


def test_pre_6_layout_and_unknown_tensors_are_refused(tmp_path):
    write_saelens_folder(tmp_path / "old", "standard", random_tensors("standard"), metadata={"hook_name": "resid.2"})
    with pytest.raises(SAELoadError, match="sae_lens_version"):
        load_sae(tmp_path / "old")
    t = {**random_tensors("standard"), "scaling_factor": torch.ones(40)}
    write_saelens_folder(tmp_path / "extra", "standard", t)
    with pytest.raises(SAELoadError, match="'scaling_factor'"):
        load_sae(tmp_path / "extra")


def test_metrics_file_is_validated(tmp_path):
    export_sae(trained_like("topk"), tmp_path, "resid.2", "ab" * 32, {"fvu": 0.2})
    f = tmp_path / "metrics.json"
    good = json.loads(f.read_text())
    for bad, match in (({**good, "format": "othello-sae-metrics/0"}, "format"), ({**good, "l1": 3.0}, "k and no l1"),
                       ({k: v for k, v in good.items() if k != "site"}, "'site' is missing"),
                       ({**good, "dict_size": 48}, "'dict_size'")):
        f.write_text(json.dumps(bad))
        with pytest.raises(SAELoadError, match=match) as e:
            load_metrics(tmp_path)
        assert "\n" not in str(e.value)
