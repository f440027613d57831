"""The position inspector (sae/inspect_position.py): attribution is exact for a linear readout, and the CLI
runs end to end on a tiny sweep."""
import json
import subprocess
import sys

import pytest
import torch

from alphazero.checkpoint import REPO_ROOT, file_sha256, load_network
from sae import inspect_position as ip
from sae.archs import SAEConfig, make_sae
from sae.export import export_sae, fold
from sae.sweep_report import write_sweep_report
from tests.conftest import tiny_checkpoint

D = 16


def random_sae(arch="relu", d_sae=32, seed=0, k=0):
    sae = make_sae(SAEConfig(arch, D, d_sae, k=k, seed=seed))
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.3)  # some features on, some off
    return fold(sae)


def test_attribution_equals_the_exact_effect_for_a_linear_readout():
    torch.manual_seed(0)
    sae, W_DK, x_D = random_sae(), torch.randn(D, 2), torch.randn(D)
    out_fn = lambda x: x @ W_DK  # noqa: E731
    f_F, attr_FK = ip.attribution(out_fn, x_D, sae)
    active = torch.nonzero(f_F > 0)[:, 0]
    assert 0 < len(active) < len(f_F)
    exact = ip.ablation(out_fn, x_D, sae, f_F, active)
    torch.testing.assert_close(attr_FK[active], exact, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(attr_FK[active], f_F[active, None] * (sae.W_dec[active] @ W_DK), rtol=1e-4, atol=1e-5)
    assert torch.all(attr_FK[f_F == 0] == 0)   # an inactive feature is attributed nothing


def test_attribution_tracks_ablation_on_a_network():
    torch.manual_seed(1)
    from alphazero.config import NetConfig
    from alphazero.network import AlphaZeroNet
    net = AlphaZeroNet(NetConfig(d_model=D, n_blocks=2, d_hidden=32)).eval()
    sae = random_sae(d_sae=64)
    board = torch.randint(-1, 2, (1, 36)).float()
    x_D = net.run_with_cache(board, ["resid.0"])[2]["resid.0"][0]
    out_fn = ip.readout(net, "resid.0", torch.ones(1, 37, dtype=torch.bool), 5, "logprob")
    f_F, attr_FK = ip.attribution(out_fn, x_D, sae)
    active = torch.nonzero(f_F > 0)[:, 0]
    exact = ip.ablation(out_fn, x_D, sae, f_F, active)
    assert ip.pearson(attr_FK[active, 0], exact[:, 0]) > 0.9


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A tiny sweep folder (a relu and a topk SAE at resid.0 of a tiny checkpoint) with a concepts.json."""
    root = tmp_path_factory.mktemp("inspect")
    ck = tiny_checkpoint(root / "tiny.pt", d_model=D)
    out, runs = root / "sweep", []
    sha = file_sha256(ck)
    for name, sae in (("relu_f32", random_sae()), ("topk_f32_k4", random_sae("topk", k=4))):
        export_sae(sae, out / name, "resid.0", checkpoint_sha256=sha)
        runs.append({"name": name, "folder": name, "site": "resid.0", "arch": sae.arch, "d_sae": 32,
                     "k": 4 if sae.arch == "topk" else None, "l1": None if sae.arch == "topk" else 1.0, "metrics": {}})
    write_sweep_report(out, runs, {}, {"path": "unused", "checkpoint_sha256": sha, "sites": ["resid.0"]})
    feats = [{"text": f"legal c{j % 6 + 1}", "f1": 0.5, "rule": [0, -1, 0, -2, 0]} for j in range(32)]
    (out / "concepts.json").write_text(json.dumps({"format": "othello-sae-concepts/1", "columns": ["legal a1"],
                                                   "autointerp": {"relu_f32": {"features": feats}}}))
    return ck, out


def run(*args):
    return subprocess.run([sys.executable, "-m", "sae.inspect_position", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=180)


def test_cli_end_to_end(sweep):
    ck, out = sweep
    r = run("--moves", "c2 b2", "--checkpoint", str(ck), "--sae.out", str(out), "--top", "3")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # the checkpoint is the one the sweep was trained on: no warning
    text = r.stdout
    assert "X to move; policy:" in text and "explaining" in text
    for name in ("relu_f32", "topk_f32_k4"):
        assert f"== {name} at resid.0:" in text
    assert text.count("by |attribution| to the move") == 2 and text.count("Pearson r =") == 2
    assert "legal c" in text and "(F1 0.50)" in text   # labels of the relu SAE from concepts.json


def test_cli_board_and_move_choice(sweep):
    ck, out = sweep
    board = "------/------/--XO--/--OX--/------/------"
    r = run("--board", board, "--to-move", "O", "--move", "e4", "--target", "logprob", "--checkpoint", str(ck),
            "--sae.out", str(out), "--saes", "topk_f32_k4", "--check", "3")
    assert r.returncode == 0, r.stderr
    assert "O to move" in r.stdout and "explaining e4 (logprob)" in r.stdout
    assert "relu_f32" not in r.stdout and "over 3 active features" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--moves", "a1"], "move 'a1' is illegal here"),
    (["--board", "XO"], "need exactly 36 cells"),
    (["--moves", "c2", "--move", "a1"], "--move 'a1' is not legal here"),
    (["--saes", "nope"], "--saes: 'nope' is not an SAE"),
])
def test_bad_input_is_one_line_error(sweep, args, message):
    ck, out = sweep
    r = run(*args, "--checkpoint", str(ck), "--sae.out", str(out))
    assert r.returncode != 0 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_other_checkpoint_warns(sweep, tmp_path):
    _, out = sweep
    other = tiny_checkpoint(tmp_path / "other.pt", d_model=D, seed=3)
    r = run("--checkpoint", str(other), "--sae.out", str(out), "--top", "1")
    assert r.returncode == 0, r.stderr
    assert "warning: the sweep's SAEs were trained on checkpoint" in r.stderr
    assert load_network(other).cfg.d_model == D
