"""The board lab's data (vis/weights.py through the generator): weight files, labels, the strict reader.

The in-page forward pass itself is checked against PyTorch in tests/test_vis_lab_browser.py.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from alphazero.checkpoint import load_network
from alphazero.network import NetConfig
from sae.export import SAELENS_TENSORS
from tests import demo_data
from vis import features as F
from vis import generate_vis_data, viewer_data
from vis import weights as W

TINY_NET = NetConfig(d_model=32, n_blocks=4, d_hidden=64)
SAES = (("relu", 64), ("topk", 96), ("jumprelu", 64), ("gated", 48), ("relu", 2048))  # relu_2048: float16 matrices
JS = Path(generate_vis_data.__file__).resolve().parent / "js"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("vis_lab")
    labels = [None] * 96
    labels[7] = {"property": "c4 mine", "f1": 0.8123, "precision": 0.9, "recall": 0.7, "f1_train": 0.8, "threshold": 0.0}
    extra = {"topk_96": {"concepts": {"coverage": {"all": 0.5}, "reconstruction": {"square_acc": 0.75}, "features": labels}}}
    paths = demo_data.make_demo(root / "in", n_games=16, saes=SAES, net_cfg=TINY_NET, extra_metrics=extra)
    out = root / "data"
    assert generate_vis_data.main(["--checkpoint", str(paths["checkpoint"]), "--sae.out", str(paths["sae_dir"]),
                                   "--collect.out", str(paths["acts"]), "--vis.out", str(out), "--device", "cpu",
                                   "--vis.effect-samples", "4"]) == 0
    return {"out": out, "index": json.loads((out / "index.json").read_text()), **paths}


def test_network_weights_round_trip(generated):
    """net/weights.bin holds every tensor of the forward pass where index.json says, float16 only for the large ones."""
    entry = generated["index"]["net"]
    buf = W.decode((generated["out"] / entry["file"]).read_bytes())
    assert len(buf) == entry["bytes"] and entry["ln_eps"] == torch.nn.LayerNorm(4).eps
    net = load_network(generated["checkpoint"])
    assert entry["sites"] == net.sites and (entry["d_model"], entry["n_blocks"], entry["d_hidden"]) == (32, 4, 64)
    got = W.unpack(buf, entry["tensors"])
    assert set(got) == set(W.net_tensors(net))
    for name, t in W.net_tensors(net).items():
        meta = entry["tensors"][name]
        assert meta["offset"] % W.ALIGN == 0 and meta["dtype"] == ("f16" if t.numel() >= W.F16_MIN else "f32")
        assert np.array_equal(got[name], t.numpy().astype(W.DTYPES[meta["dtype"]]).astype(np.float32))


def test_sae_weights_round_trip(generated):
    """Each SAE's weights.bin: its SAELens tensors (float16 from F16_MIN elements) and encoder settings."""
    seen = set()
    for s in generated["index"]["saes"]:
        w = s["weights"]
        folder = generated["sae_dir"] / s["name"]
        cfg = json.loads((folder / "cfg.json").read_text())
        ref = load_file(folder / "sae_weights.safetensors")
        assert w["file"] == f"{s['dir']}/weights.bin" and w["architecture"] == cfg["architecture"]
        assert w["apply_b_dec_to_input"] == cfg["apply_b_dec_to_input"] and w["k"] == cfg.get("k")
        got = W.unpack(W.decode((generated["out"] / w["file"]).read_bytes()), w["tensors"])
        assert set(got) == set(ref) == set(SAELENS_TENSORS[w["architecture"]])
        for name, a in ref.items():
            seen.add(w["tensors"][name]["dtype"])
            np.testing.assert_allclose(got[name], a, rtol=1e-3, atol=1e-7)  # float16: 11 significant bits
    assert seen == {"f16", "f32"}


def test_page_knows_the_saelens_tensors():
    """vis/js/sae.js mirrors sae/export.py's tensors per architecture, and the float16/float32 names of vis/weights.py."""
    text = (JS / "sae.js").read_text()
    for arch, names in SAELENS_TENSORS.items():
        listed = re.search(rf"\b{arch}: \[([^\]]*)\]", text).group(1)
        assert re.findall(r'"(\w+)"', listed) == list(names), arch
    sizes = re.search(r"const SIZES = \{([^}]*)\}", (JS / "weights.js").read_text()).group(1)
    assert dict(re.findall(r"(\w+): (\d)", sizes)) == {k: str(v.itemsize) for k, v in W.DTYPES.items()}


def test_reader_is_strict_about_the_lab_fields(generated, tmp_path):
    """An index of the previous format, or one without the network, is refused with the file named."""
    for change, message in ((lambda i: {**i, "format": "othello-vis/3"}, "has format 'othello-vis/3'"),
                            (lambda i: {k: v for k, v in i.items() if k != "net"}, "lacks the field 'net'")):
        out = tmp_path / message[:8].replace(" ", "_")
        out.mkdir()
        (out / "index.json").write_text(json.dumps(change(generated["index"])))
        with pytest.raises(viewer_data.ViewerDataError, match=re.escape(message)):
            viewer_data.read_index(out)


def test_weights_beyond_float16_are_refused():
    big = {"w": torch.full((256, 256), 1e6)}
    with pytest.raises(W.WeightsError, match="somewhere: tensor 'w' is not finite in f16"):
        W.pack(big, "somewhere")
    buf, meta = W.pack({"v": torch.tensor([1.5, -2.0, 3.0]), "m": torch.ones(300, 300)}, "x")
    assert meta["v"] == {"dtype": "f32", "offset": 0, "shape": [3]} and meta["m"]["offset"] == 12
    assert len(buf) == 12 + 300 * 300 * 2 and W.decode(W.encode(buf)) == buf


def test_feature_map(generated):
    """Every SAE has map coordinates in [0, 1] for each feature, the PCA of its unit decoder rows."""
    for s in generated["index"]["saes"]:
        summary = json.loads((generated["out"] / s["dir"] / "features.json").read_text())
        xy = np.array([summary["map_x"], summary["map_y"]]).T
        assert xy.shape == (s["d_sae"], 2) and xy.min() >= 0 and xy.max() <= 1
        assert s["map"]["method"] == F.MAP_METHOD and 0 < s["map"]["explained"][1] <= s["map"]["explained"][0] < 1
    rng = np.random.default_rng(0)
    W = rng.normal(size=(40, 8))
    W[1] = 3 * W[0]  # the same direction at another length: the same point
    xy, explained = F.feature_map(W)
    assert np.allclose(xy[0], xy[1]) and np.array_equal(xy, F.feature_map(W.copy())[0])
    # directions within a plane: two components explain all of their variance
    _, explained = F.feature_map(np.c_[rng.normal(size=(30, 2)), np.zeros((30, 6))])
    assert explained.sum() > 0.999
