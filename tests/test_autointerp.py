"""Auto-interpretation (sae/autointerp.py) on planted features whose rule is known, and ablation importance."""
import numpy as np
import pytest
import torch

from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet
from othello import game
from othello.sampling import random_games
from sae import autointerp as ai
from sae.archs import SAEConfig, make_sae

K = 24
NAMES = [f"c{k}" for k in range(K)]


def planted(n, seed, test_shift=False):
    """Concept columns x bool [n, K] (independent, rate 0.3) and feature activations f [n, 6]:
    0 = c3, 1 = c5 and not c7, 2 = random 20%, 3 = (c1 and not c2) or (not c1 and c4), 4 = dead,
    5 = c9 at 1.0 plus (train/val) noise at 0.25 on 30% of the other rows; on test (test_shift)
    no noise but half of the c9 rows at 0.2: the test-best threshold (0) differs from val's (>= 0.3)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, K)) < 0.3
    mag = 1 + rng.random(n)
    f = np.zeros((n, 6), np.float32)
    f[:, 0] = x[:, 3] * mag
    f[:, 1] = (x[:, 5] & ~x[:, 7]) * mag
    f[:, 2] = (rng.random(n) < 0.2) * mag
    f[:, 3] = ((x[:, 1] & ~x[:, 2]) | (~x[:, 1] & x[:, 4])) * mag
    if test_shift:
        f[:, 5] = np.where(x[:, 9], np.where(rng.random(n) < 0.5, 1.0, 0.2), 0.0)
    else:
        f[:, 5] = np.where(x[:, 9], 1.0, np.where(rng.random(n) < 0.3, 0.25, 0.0))
    return torch.as_tensor(x), torch.as_tensor(f)


@pytest.fixture(scope="module")
def explained():
    data = {s: planted(n, i, s == "test") for i, (s, n) in enumerate((("train", 6000), ("val", 3000), ("test", 3000)))}
    x, f = {s: d[0] for s, d in data.items()}, {s: d[1] for s, d in data.items()}
    cfg = ai.AutoInterpConfig(thresholds=(0.0, 0.3, 0.5))
    return ai.explain(f, x, f["train"].max(0).values.clamp_min(1e-12), cfg, NAMES)


def test_a_feature_equal_to_a_column_gets_that_column(explained):
    r = explained[0]
    assert r["text"] == "c3" and r["kind"] == "single" and r["f1"] == 1.0


def test_a_conjunction_is_found(explained):
    r = explained[1]
    assert r["text"] == "c5 and not c7" and r["kind"] == "conjunction" and r["f1"] == 1.0


def test_a_depth_two_tree_is_found(explained):
    r = explained[3]
    # the root must be informative alone (c1 is: P(fire | c1) = 0.7 vs 0.3): the search tries the
    # best single literals as roots, so an XOR-like root, useless on its own, would be missed
    assert r["kind"] == "tree" and r["f1"] == 1.0 and r["text"] == "(c1 and not c2) or (not c1 and c4)"


def test_random_and_dead_features(explained):
    assert explained[2]["f1"] < 0.5      # nothing to explain: near the always-on score 2p/(1+p) ~ 0.33
    assert explained[4] is None          # never fires on train: not alive


def test_the_threshold_is_chosen_on_val_not_test(explained):
    r = explained[5]
    assert r["threshold"] >= 0.3 and r["text"] == "c9"   # val: the 0.25 noise is cut at t >= 0.3
    assert abs(r["f1"] - 2 / 3) < 0.05                   # test then misses the c9 rows at 0.2 (t = 0 would score 1)


def test_rule_text_and_apply_agree_on_every_kind():
    x = torch.tensor([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=torch.bool)
    rules = [[0, ai.ALWAYS, 0, ai.NEVER, 0], [0, ai.NEVER, 0, ai.ALWAYS, 0], [0, 1, 0, ai.NEVER, 0],
             [0, ai.NEVER, 0, 2, 1], [0, ai.ALWAYS, 0, 1, 1], [0, 1, 1, 2, 0]]
    want = [x[:, 0], ~x[:, 0], x[:, 0] & ~x[:, 1], ~x[:, 0] & x[:, 2], x[:, 0] | x[:, 1],
            (x[:, 0] & x[:, 1]) | (~x[:, 0] & ~x[:, 2])]
    got = ai.apply_rules(rules, x)
    for i, w in enumerate(want):
        assert torch.equal(got[:, i], w), ai.rule_text(rules[i], ["a", "b", "c"])
    assert [ai.rule_text(r, ["a", "b", "c"]) for r in rules] == [
        "a", "not a", "a and not b", "not a and c", "a or b", "(a and b) or (not a and not c)"]
    assert [ai.rule_kind(r) for r in rules] == ["single", "single", "conjunction", "conjunction", "tree", "tree"]
    # redundant trees fold to what they mean: (a and a) or (not a and b) = a or b; (a and b) or (not a and b) = b
    for r, want_text in (([0, 0, 1, 1, 1], "a or b"), ([0, 1, 1, 1, 1], "b"), ([0, 2, 0, 0, 1], "a and not c"),
                         ([0, 2, 0, 0, 0], "not a or not c")):
        s = ai.simplify(r)
        assert ai.rule_text(s, ["a", "b", "c"]) == want_text and torch.equal(ai.apply_rules([s], x), ai.apply_rules([r], x))


def test_importance_is_zero_for_a_zero_decoder_direction():
    torch.manual_seed(0)
    net = AlphaZeroNet(NetConfig(d_model=16, n_blocks=2, d_hidden=32)).eval()
    sae = make_sae(SAEConfig("relu", 16, 8)).requires_grad_(False).eval()
    with torch.no_grad():
        sae.b_enc[:] = 1.0           # every feature fires on every position
        sae.W_dec[3] = 0.0           # ... but feature 3 writes nothing
    pos = random_games(4, 0)
    boards = game.to_planes(pos["me"], pos["opp"])
    legal = game.legal_mask(pos["me"], pos["opp"])
    with torch.no_grad():
        _, _, cache = net.run_with_cache(torch.as_tensor(boards, dtype=torch.float32), ["resid.0"])
        f = sae.encode(cache["resid.0"])
    kl, dv, n = ai.importance(net, sae, "resid.0", boards, legal, f, ai.AutoInterpConfig(importance_rows=20))
    assert kl[3] == 0 and dv[3] == 0 and n[3] == 20
    assert (kl[[0, 1, 2, 4, 5, 6, 7]] > 0).all()
