"""Steering and ablation (sae/steering.py, play.py --steer / --ablate) on a tiny network and a hand-built SAE
whose decoder rows are known directions."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from alphazero.agents import MCTSPlayer, PolicyPlayer
from alphazero.checkpoint import REPO_ROOT, load_network
from othello import game
from sae import steering
from sae.export import export_sae, from_saelens
from tests.conftest import tiny_checkpoint

D, F, SITE = 16, 4, "resid.0"


def hand_sae(dead=3):
    """ReLU SAE on raw activations: W_dec = the first F basis vectors (f_i = relu(x_i)); feature `dead`
    has a huge negative bias, so it never fires."""
    W_dec = torch.eye(F, D)
    b_enc = torch.zeros(F)
    b_enc[dead] = -1e6
    return from_saelens("standard", {"W_enc": W_dec.T.clone(), "b_enc": b_enc, "W_dec": W_dec, "b_dec": torch.zeros(D)},
                        apply_b_dec_to_input=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(checkpoint path, exported SAE folder at resid.0, the network)."""
    root = tmp_path_factory.mktemp("steer")
    ck = tiny_checkpoint(root / "tiny.pt", d_model=D)
    folder = root / "sae_f4"
    export_sae(hand_sae(), folder, SITE)
    return ck, folder, load_network(ck)


def boards(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.integers(-1, 2, (n, 36)), dtype=torch.float32)


def site_act(net, b):
    return net.run_with_cache(b, [SITE])[2][SITE]


@pytest.mark.parametrize("mode,value", [("clamp", 2.5), ("clamp", 0.0), ("add", -1.5)])
def test_spliced_activation_is_x_plus_delta_along_the_decoder_row(tiny, mode, value):
    _, _, net = tiny
    sae, b, i = hand_sae(), boards(), 1
    x = site_act(net, b)
    seen = {}
    steered = steering.steered_network(net, sae, [steering.Edit(i, value, mode)], site=SITE)
    p, v = steered(b, hooks={SITE: lambda a: seen.__setitem__("x", a)})   # a later hook sees the edited stream
    f_i = torch.relu(x[:, i])
    delta = (value - f_i) if mode == "clamp" else torch.full_like(f_i, value)
    expected = x + delta[:, None] * sae.W_dec[i]
    torch.testing.assert_close(seen["x"], expected)
    # ... and the output is the network finished from exactly that activation: the decoder direction's effect
    p_ref, v_ref = net.run_from(SITE, expected)
    torch.testing.assert_close(p, p_ref)
    torch.testing.assert_close(v, v_ref)
    assert not torch.allclose(p, net(b)[0])


def test_clamp_changes_the_output_along_the_gradient_direction(tiny):
    """A small clamp step changes the policy logits by delta * (d . grad), the decoder direction's linear effect."""
    _, _, net = tiny
    sae, b, i = hand_sae(), boards(8, 1), 0
    x = site_act(net, b).detach().requires_grad_(True)
    p0, _ = net.run_from(SITE, x)
    a = int(p0[0].argmax())
    (g,) = torch.autograd.grad(p0[0, a], x)
    eps = 1e-3
    f0 = float(torch.relu(x[0, i]).detach())
    p1, _ = steering.steered_network(net, sae, [steering.Edit(i, f0 + eps)], site=SITE)(b)
    assert float((p1[0, a] - p0[0, a]).detach()) == pytest.approx(eps * float(g[0] @ sae.W_dec[i]), rel=0.05, abs=1e-6)


def test_ablating_an_inactive_feature_changes_nothing(tiny):
    _, _, net = tiny
    b = boards()
    p, v = steering.steered_network(net, hand_sae(), [steering.Edit(3, 0.0)], site=SITE)(b)
    p0, v0 = net(b)
    assert torch.equal(p, p0) and torch.equal(v, v0)


def test_players_evaluate_the_steered_network(tiny):
    ck, folder, net = tiny
    steers = steering.load_steers(steering.parse_specs([f"{folder}:0=6"]))
    me, opp = game.initial(1)
    clean = MCTSPlayer(load_network(ck), sims=2, seed=0)
    mcts = steering.steer_player(MCTSPlayer(load_network(ck), sims=2, seed=0), steers)
    assert isinstance(mcts.evaluate.net, steering.SteeredNetwork) and "+steer[sae_f4:0=6]" in mcts.name
    assert not np.allclose(mcts.evaluate(me, opp)[0], clean.evaluate(me, opp)[0])
    pol = steering.steer_player(PolicyPlayer(load_network(ck)), steers)
    assert isinstance(pol.net, steering.SteeredNetwork)
    with pytest.raises(ValueError, match="need a network player"):
        from othello.players import GreedyPlayer
        steering.steer_player(GreedyPlayer(0), steers)


def test_spec_grammar():
    got = steering.parse_specs(["runs/x:3=2.5,4+=-1", "other:7=0"], ["runs/x:9"])
    assert got == {"runs/x": [steering.Edit(3, 2.5), steering.Edit(4, -1.0, "add"), steering.Edit(9, 0.0)],
                   "other": [steering.Edit(7, 0.0)]}


@pytest.mark.parametrize("spec,message", [
    ("runs/x:abc=1", "feature 'abc' is not a feature index"),
    ("runs/x:3=big", "value 'big' is not a number"),
    ("runs/x:3=nan", "value 'nan' is not finite"),
    ("runs/x:3", "expected FEATURE=VALUE"),
    ("3=1", "no SAE folder"),
])
def test_bad_specs_name_the_value(spec, message):
    with pytest.raises(ValueError, match=message):
        steering.parse_specs([spec])


def test_out_of_range_feature_and_missing_folder(tiny, tmp_path):
    _, folder, _ = tiny
    with pytest.raises(ValueError, match="feature 4 is out of range: the SAE has 4 features"):
        steering.load_steers(steering.parse_specs([f"{folder}:4=1"]))
    with pytest.raises(ValueError, match="does not exist"):
        steering.load_steers(steering.parse_specs([f"{tmp_path / 'nope'}:1=1"]))


def play(*args):
    return subprocess.run([sys.executable, "othello/play.py", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=180)


def test_play_cli_steer_and_ablate_end_to_end(tiny):
    ck, folder, _ = tiny
    out = play("--games", "2", "--player", f"policy:{ck}", "--opponent", f"policy:{ck}", "--json",
               "--steer", f"{folder}:0=5,1+=2", "--ablate", f"{folder}:2")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["games"] == 2 and r["player"] == "policy:tiny.pt+steer[sae_f4:0=5,1+=2,2=0]"
    mcts = play("--games", "2", "--checkpoint", str(ck), "--search.sims", "2", "--steer", f"{folder}:0=3")
    assert mcts.returncode == 0, mcts.stderr
    assert "mcts2:tiny.pt+steer[sae_f4:0=3] vs mcts2:tiny.pt: 2 games" in mcts.stdout


@pytest.mark.parametrize("extra,message", [
    (["--steer", "{folder}:zz=1"], "feature 'zz' is not a feature index"),
    (["--ablate", "{folder}:99"], "feature 99 is out of range"),
    (["--steer", "{folder}:1=2", "--player", "greedy"], "need a network player"),
])
def test_play_cli_bad_steer_is_one_line_error(tiny, extra, message):
    ck, folder, _ = tiny
    args = ["--games", "2", "--player", f"policy:{ck}", "--opponent", "random"]
    out = play(*args, *[e.format(folder=folder) for e in extra])
    assert out.returncode != 0 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
