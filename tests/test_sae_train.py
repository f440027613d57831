"""Lockstep trainer, resume, NaN handling, CLI smoke, downstream splice metrics."""
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from alphazero.checkpoint import load_network
from alphazero.network import NetConfig
from sae.activations import ActivationStore
from sae.archs import ARCHS, DEFAULT_L1, SAEConfig
from sae.config import EVAL_SPLIT, SAETrainConfig
from sae.downstream import evaluate_downstream, splice_metrics
from sae.export import fold, load_metrics, load_sae
from sae.sweep_report import read_sweep_report
from sae.train import SAETrainingError, Sweep
from tests.synthetic import make_random_store

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
            if i == self.nan_at:
                x = {s: v * float("nan") for s, v in x.items()} if isinstance(x, dict) else x * float("nan")
            yield x


def cfgs():
    return [SAEConfig("relu", 32, 64, l1=2.0), SAEConfig("topk", 32, 64, k=4), SAEConfig("jumprelu", 32, 64, l1=0.3)]


def section(out, **kw):
    return SAETrainConfig(out=str(out), **kw)


def test_resume_continues_exactly(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    tc = dict(steps=24, batch_size=64, ckpt_every=10, dead_tokens=500, resample_at=(0.5,), precision="fp32")
    ref = Sweep(store, cfgs(), section(tmp_path / "ref", **tc), "resid.2", 0, "cpu").run(progress=False)
    cut = section(tmp_path / "cut", **tc)
    with pytest.raises(KeyboardInterrupt):
        Sweep(Interrupting(store, stop=15), cfgs(), cut, "resid.2", 0, "cpu").run(progress=False)
    assert torch.load(tmp_path / "cut" / "sweep_state.pt", weights_only=True)["step"] == 10
    resumed = Sweep(store, cfgs(), cut, "resid.2", 0, "cpu").run(resume=True, progress=False)
    for a, b in zip(ref, resumed):
        for (n, p), q in zip(a.sae.state_dict().items(), b.sae.state_dict().values()):
            assert torch.allclose(p, q, atol=1e-6), (a.name, n)
    other = replace(cut, batch_size=32)
    with pytest.raises(SAETrainingError, match="batch_size"):
        Sweep(store, cfgs(), other, "resid.2", 0, "cpu").run(resume=True, progress=False)


KILL_AT_BATCH = """
import os, signal, sys
from sae.activations import ActivationStore
from sae.config import SAETrainConfig
from sae.train import Sweep
from tests.test_sae_train import cfgs

class Killed:  # the process dies (SIGKILL: no cleanup, no exception handlers) when batch 15 is asked for
    def __init__(self, store):
        self.store = store
    def __getattr__(self, name):
        return getattr(self.store, name)
    def batches(self, *args, **kwargs):
        for i, x in enumerate(self.store.batches(*args, **kwargs)):
            if i == 15:
                os.kill(os.getpid(), signal.SIGKILL)
            yield x

store_dir, out, tc = sys.argv[1], sys.argv[2], eval(sys.argv[3])
Sweep(Killed(ActivationStore(store_dir)), cfgs(), SAETrainConfig(out=out, **tc), "resid.2", 0, "cpu").run(progress=False)
"""


def test_resume_after_kill_9(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    tc = dict(steps=24, batch_size=64, ckpt_every=10, dead_tokens=500, resample_at=(0.5,), precision="fp32")
    ref = Sweep(store, cfgs(), section(tmp_path / "ref", **tc), "resid.2", 0, "cpu").run(progress=False)
    r = subprocess.run([sys.executable, "-c", KILL_AT_BATCH, str(store_dir), str(tmp_path / "cut"), repr(tc)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == -9, r.stderr[-2000:]
    assert torch.load(tmp_path / "cut" / "sweep_state.pt", weights_only=True)["step"] == 10
    resumed = Sweep(store, cfgs(), section(tmp_path / "cut", **tc), "resid.2", 0, "cpu").run(resume=True, progress=False)
    for a, b in zip(ref, resumed):
        for (n, p), q in zip(a.sae.state_dict().items(), b.sae.state_dict().values()):
            assert torch.allclose(p, q, atol=1e-6), (a.name, n)


def test_nan_loss_names_sae_and_step(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    tc = section(tmp_path / "nan", steps=10, batch_size=64, ckpt_every=0)
    with pytest.raises(SAETrainingError, match=r"SAE 'relu_f64_l1-2' .* at step 3"):
        Sweep(Interrupting(store, nan_at=3), cfgs(), tc, "resid.2", 0, "cpu").run(progress=False)


def run_cli(*args, ok=True):
    r = subprocess.run([sys.executable, str(ROOT / "train_sae.py"), *map(str, args)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 or not ok, r.stderr[-2000:]
    return r


def test_cli_single_and_small_sweep(store_dir, tmp_path):
    out, ckpt = tmp_path / "single", store_dir.parent / f"{store_dir.name}_model.pt"
    run_cli("--collect.out", store_dir, "--sae.out", out, "--sae.features", 64, "--sae.steps", 20,
            "--sae.batch-size", 64, "--sae.match-games", 0, "--checkpoint", ckpt)
    report = read_sweep_report(out)
    (run,) = report["runs"]
    assert run["name"] == f"relu_f64_l1-{DEFAULT_L1['relu']:g}" and 0 <= run["metrics"]["fvu"] and "downstream" in run["metrics"]
    for f in ("cfg.json", "sae_weights.safetensors", "metrics.json"):
        assert (out / run["name"] / f).is_file()
    assert (out / "fvu_vs_l0.svg").read_text().startswith("<svg")
    assert report["config"]["sae"]["steps"] == 20 and report["eval_split"] == EVAL_SPLIT
    assert load_metrics(out / run["name"])["metrics"]["fvu"] == run["metrics"]["fvu"]  # computed once, recorded twice
    sae = load_sae(out / run["name"])  # the exported SAE works on raw activations of the store
    x = torch.from_numpy(np.asarray(ActivationStore(store_dir).acts("resid.2", EVAL_SPLIT), dtype=np.float32))
    fvu = ((sae.decode(sae.encode(x)) - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert float(fvu) == pytest.approx(run["metrics"]["fvu"], rel=1e-3)
    sweep = tmp_path / "sweep"
    run_cli("--collect.out", store_dir, "--sae.out", sweep, "--sae.sweep", "small", "--sae.features", 48,
            "--sae.steps", 10, "--sae.batch-size", 64, "--sae.downstream-rows", 0)
    names = {r["arch"] for r in read_sweep_report(sweep)["runs"]}
    assert names == set(ARCHS)  # `small`: one SAE per architecture
    r = run_cli("--collect.out", store_dir, "--sae.features", 64, "--sae.out", tmp_path / "x", "--sae.steps", 1,
                "--sae.sweep", "prior", "--sae.batch-size", 100000, "--checkpoint", ckpt, ok=False)
    assert r.returncode != 0 and "fewer than one batch" in r.stderr


def test_cli_one_line_errors(store_dir, tmp_path):
    def error(*args):
        r = run_cli("--collect.out", store_dir, "--sae.out", tmp_path / "e", "--sae.steps", 1, *args, ok=False)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        return r.stderr

    assert "not the network" in error("--sae.features", 64)  # default checkpoint: the shipped model, not this store's
    assert "unknown site '9'" in error("--site", "1,9", "--sae.downstream-rows", 0)
    assert "unknown SAE architecture 'dense'" in error("--sae.arch", "dense", "--sae.downstream-rows", 0)


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
    members = Sweep(store, cfgs()[:1], section(tmp_path, steps=10, batch_size=64, ckpt_every=0), "resid.2", 0,
                    "cpu").run(progress=False)
    ds = evaluate_downstream(net, fold(members[0].sae), store, "resid.2", "val", 20_000, 2, "cpu", 0)
    assert 0 <= ds["top1_agree"] <= 1 and np.isfinite(ds["kl"]) and ds["value_mae"] >= 0
    match = ds["match"]
    assert match["wins"] + match["draws"] + match["losses"] == 2 and 0 <= match["score"] <= 1


def test_wandb_flag_without_wandb_is_a_one_line_error(tmp_path):
    fake = tmp_path / "no_wandb"
    fake.mkdir()
    (fake / "wandb.py").write_text("raise ModuleNotFoundError(\"No module named 'wandb'\", name='wandb')\n")
    env = {**os.environ, "PYTHONPATH": f"{fake}:{ROOT}"}  # wandb absent even where it is installed
    r = subprocess.run([sys.executable, str(ROOT / "train_sae.py"), "--wandb", "--collect.out", str(tmp_path / "none")],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode != 0 and "pip install wandb" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
