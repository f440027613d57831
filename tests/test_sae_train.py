"""Lockstep trainer, resume, NaN handling, CLI smoke, downstream splice metrics."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alphazero.checkpoint import load_network
from alphazero.network import NetConfig
from sae.activations import ActivationStore
from sae.archs import SAEConfig
from sae.downstream import evaluate_downstream, splice_metrics
from sae.export import fold, load_sae
from sae.synthetic import make_random_store
from sae.train import SAETrainingError, Sweep, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
TINY = NetConfig(d_model=32, n_blocks=4, d_hidden=64)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "acts"
    make_random_store(path, n_games=60, net_cfg=TINY, seed=0)
    return path


class Interrupting:
    """A store whose batch stream raises after `stop` batches (or yields NaN at batch `nan_at`)."""

    def __init__(self, store, stop=None, nan_at=None):
        self.store, self.stop, self.nan_at = store, stop, nan_at

    def __getattr__(self, name):
        return getattr(self.store, name)

    def batches(self, *args, **kwargs):
        for i, x in enumerate(self.store.batches(*args, **kwargs)):
            if i == self.stop:
                raise KeyboardInterrupt
            yield x * float("nan") if i == self.nan_at else x


def cfgs():
    return [SAEConfig("relu", 32, 64, l1=2.0), SAEConfig("topk", 32, 64, k=4), SAEConfig("jumprelu", 32, 64, l1=0.3)]


def test_resume_continues_exactly(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    tc = TrainConfig(steps=24, batch_size=64, ckpt_every=10, dead_tokens=500, resample_at=(0.5,), precision="fp32")
    ref = Sweep(store, cfgs(), tc, tmp_path / "ref").run(progress=False)
    with pytest.raises(KeyboardInterrupt):
        Sweep(Interrupting(store, stop=15), cfgs(), tc, tmp_path / "cut").run(progress=False)
    assert torch.load(tmp_path / "cut" / "sweep_state.pt", weights_only=True)["step"] == 10
    resumed = Sweep(store, cfgs(), tc, tmp_path / "cut").run(resume=True, progress=False)
    for a, b in zip(ref, resumed):
        for (n, p), q in zip(a.sae.state_dict().items(), b.sae.state_dict().values()):
            assert torch.allclose(p, q, atol=1e-6), (a.name, n)
    other = TrainConfig(**{**tc.__dict__, "batch_size": 32})
    with pytest.raises(SAETrainingError, match="batch_size"):
        Sweep(store, cfgs(), other, tmp_path / "cut").run(resume=True, progress=False)


def test_nan_loss_names_sae_and_step(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    tc = TrainConfig(steps=10, batch_size=64, ckpt_every=0)
    with pytest.raises(SAETrainingError, match=r"SAE 'relu_f64_l1-2' .* at step 3"):
        Sweep(Interrupting(store, nan_at=3), cfgs(), tc, tmp_path / "nan").run(progress=False)


def run_cli(*args):
    r = subprocess.run([sys.executable, str(ROOT / "train_sae.py"), *map(str, args), "--quiet"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def test_cli_single_and_small_sweep(store_dir, tmp_path):
    out = tmp_path / "single"
    run_cli("--acts", store_dir, "--out", out, "--features", 64, "--steps", 20, "--batch-size", 64, "--match-games", 0)
    scaling = json.loads((out / "scaling.json").read_text())
    (run,) = scaling["runs"]
    assert run["name"] == "relu_f64_l1-3" and 0 <= run["fvu"] and "downstream" in run
    for f in ("cfg.json", "sae_weights.safetensors", "metrics.json"):
        assert (out / run["name"] / f).is_file()
    assert (out / "fvu_vs_l0.svg").read_text().startswith("<svg")
    sae = load_sae(out / run["name"])  # the exported SAE works on raw activations of the store
    x = torch.from_numpy(np.asarray(ActivationStore(store_dir).acts("resid.2", "val"), dtype=np.float32))
    fvu = ((sae.decode(sae.encode(x)) - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert float(fvu) == pytest.approx(run["fvu"], rel=1e-3)
    sweep = tmp_path / "sweep"
    run_cli("--acts", store_dir, "--out", sweep, "--sweep", "small", "--features", 48, "--steps", 10,
            "--batch-size", 64, "--no-downstream")
    names = {r["arch"] for r in json.loads((sweep / "scaling.json").read_text())["runs"]}
    assert names == {"relu", "topk", "batchtopk", "jumprelu", "gated"}
    r = subprocess.run([sys.executable, str(ROOT / "train_sae.py"), "--acts", str(store_dir), "--features", "64",
                        "--out", str(tmp_path / "x"), "--steps", "1", "--sweep", "prior", "--batch-size", "100000"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "fewer than one batch" in r.stderr


def test_downstream_metrics(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    net = load_network(store.manifest["checkpoint"])

    class Identity(torch.nn.Module):
        def encode(self, x):
            return x

        def decode(self, f):
            return f

    a, b = store.split_rows("val")
    mean = np.asarray(store.acts("resid.2", "val"), dtype=np.float32).mean(0)
    m = splice_metrics(net, Identity(), "resid.2", store.array("boards", "val"), store.array("legal", "val"), mean)
    assert m["kl"] == pytest.approx(0, abs=1e-6) and m["top1_agree"] == 1 and m["flr"] == pytest.approx(1)
    assert m["kl_ablated"] > 0 and m["n_positions"] == b - a
    members = Sweep(store, cfgs()[:1], TrainConfig(steps=10, batch_size=64, ckpt_every=0), tmp_path).run(progress=False)
    ds = evaluate_downstream(net, fold(members[0].sae), store, "resid.2", "val", match_games=2)
    assert 0 <= ds["top1_agree"] <= 1 and np.isfinite(ds["kl"]) and ds["value_mae"] >= 0
    match = ds["match"]
    assert match["wins"] + match["draws"] + match["losses"] == 2 and 0 <= match["score"] <= 1
