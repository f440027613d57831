import numpy as np
import pytest
import torch

from alphazero.agents import MCTSPlayer, PolicyPlayer, make_player
from othello.arena import play_match
from alphazero.checkpoint import SHIPPED, CheckpointError, save_checkpoint
from alphazero.network import AlphaZeroNet, NetConfig
from othello import game
from othello.players import AlphaBetaPlayer, GreedyPlayer, RandomPlayer
from othello.sampling import random_positions


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32))


def brute_force(me, opp):
    """Exact final disc difference from the mover's side, by full minimax on the batched rules."""
    me_a, opp_a = np.array([me], np.uint64), np.array([opp], np.uint64)
    if game.terminal(me_a, opp_a)[0]:
        return int(game.popcount(me_a)[0] - game.popcount(opp_a)[0])
    return max(-brute_force(*[int(x[0]) for x in game.step(me_a, opp_a, [a])])
               for a in np.flatnonzero(game.legal_mask(me_a, opp_a)[0]))


def endgame_positions(max_empty, count, seed):
    """Non-terminal positions with 1..max_empty empties, some of them forced passes."""
    me, opp = random_positions(4000, seed=seed, max_plies=36)
    empties = 36 - game.popcount(me | opp)
    keep = np.flatnonzero(empties <= max_empty)[:count]
    return [(int(me[i]), int(opp[i])) for i in keep]


def child(me, opp, a):
    nme, nopp = game.step(np.array([me], np.uint64), np.array([opp], np.uint64), [a])
    return int(nme[0]), int(nopp[0])


def test_scalar_rules_match_batched():
    me, opp = random_positions(500, seed=1)
    legal = game.legal_bits(me, opp)
    for m, o, lb in zip(me, opp, legal):
        assert game.legal_int(int(m), int(o)) == int(lb)
        for sq in np.flatnonzero(game.bits_to_array(np.array([lb]))[0]):
            nme, nopp = game.step(np.array([m]), np.array([o]), [sq])
            f = game.flips_int(int(m), int(o), int(sq))
            assert int(nme[0]) == int(o) ^ f and int(nopp[0]) == int(m) | f | (1 << int(sq))


def test_alphabeta_endgame_is_exact():
    """The endgame solver's disc difference, and the move it picks, match brute-force minimax."""
    ab = AlphaBetaPlayer(depth=2, endgame_empties=8, seed=0)
    positions = endgame_positions(5, 40, seed=2)
    assert len(positions) >= 20
    for me, opp in positions:
        exact = brute_force(me, opp)
        assert ab.solve(me, opp) == exact
        a = ab.best_move(me, opp)
        assert -brute_force(*child(me, opp, a)) == exact


def test_alphabeta_finds_forced_win_before_endgame_solve():
    """With the exact solver off, a depth covering the rest of the game still picks a winning move."""
    ab = AlphaBetaPlayer(depth=10, endgame_empties=0, seed=0)  # covers 4 moves + passes
    cases = 0
    for me, opp in endgame_positions(4, 200, seed=3):
        moves = np.flatnonzero(game.legal_mask(np.array([me], np.uint64), np.array([opp], np.uint64))[0])
        results = {a: np.sign(-brute_force(*child(me, opp, a))) for a in moves}
        if max(results.values()) == 1 and min(results.values()) < 1:
            cases += 1
            assert results[ab.best_move(me, opp)] == 1
    assert cases >= 3


def test_forced_pass_returns_pass():
    me, opp = random_positions(3000, seed=0)
    forced = game.legal_bits(me, opp) == 0
    assert forced.any()
    for player in (RandomPlayer(0), GreedyPlayer(0), AlphaBetaPlayer(2, seed=0)):
        assert (player(me[forced], opp[forced]) == game.PASS).all()


def test_greedy_picks_most_flips():
    me, opp = random_positions(300, seed=4)
    actions = GreedyPlayer(seed=0)(me, opp)
    for m, o, a in zip(me, opp, actions):
        legal = np.flatnonzero(game.legal_mask(np.array([m]), np.array([o]))[0])
        flips = game.flip_count(np.full(len(legal), m), np.full(len(legal), o), legal)
        assert game.flip_count(np.array([m]), np.array([o]), [a])[0] == flips.max()


def test_players_return_legal_actions():
    me, opp = random_positions(400, seed=5)
    legal = game.legal_mask(me, opp)
    net = tiny_net()
    players = [RandomPlayer(0), GreedyPlayer(0), AlphaBetaPlayer(depth=2, seed=0),
               PolicyPlayer(net, seed=0), PolicyPlayer(net, temperature=1.0, seed=0), MCTSPlayer(net, sims=4, seed=0)]
    for player in players:
        actions = player(me, opp)
        assert actions.shape == (400,)
        assert legal[np.arange(400), actions].all(), player.name


def test_alphabeta_ties_are_broken_at_random():
    """The start position has 4 symmetric moves of equal score: different seeds pick different ones."""
    me, opp = game.initial(1)
    picks = {int(AlphaBetaPlayer(depth=2, seed=s)(me, opp)[0]) for s in range(20)}
    assert len(picks) > 1


def test_alphabeta_beats_random():
    r = play_match(AlphaBetaPlayer(depth=2, seed=0), RandomPlayer(seed=1), 12, seed=0, progress=False)
    assert r.score >= 0.8


def test_make_player_specs(tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, tiny_net())
    assert isinstance(make_player("random"), RandomPlayer)
    assert isinstance(make_player("greedy"), GreedyPlayer)
    assert make_player("alphabeta").depth == 4 and make_player("alphabeta", depth=2).depth == 2
    assert make_player("alphabeta:3").depth == 3
    assert isinstance(make_player(f"policy:{path}"), PolicyPlayer)
    assert isinstance(make_player(f"mcts:{path}", sims=5), MCTSPlayer)
    bare = make_player(str(path), sims=5)
    assert isinstance(bare, MCTSPlayer) and bare.cfg.sims == 5


@pytest.mark.parametrize("spec", ["foo", "alphabeta:x", "alphabeta:0", "policy:", "mcts:", "random:3", ""])
def test_make_player_bad_spec(spec):
    with pytest.raises(ValueError, match="spec"):
        make_player(spec)


def test_make_player_bad_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        make_player(str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        make_player(f"policy:{junk}")
    if not SHIPPED.is_file():
        with pytest.raises(CheckpointError, match="not found"):
            make_player("shipped")
