import itertools
import json
import subprocess
import sys

import pytest

from alphazero.checkpoint import REPO_ROOT
from alphazero.config import SearchConfig
from config import Config
from othello import game
from othello.play import build_player, human_game
from othello.players import GreedyPlayer
from tests.conftest import tiny_checkpoint as make_tiny_checkpoint


def run_cli(*args, stdin=None, module=False):
    cmd = [sys.executable, "-m", "othello.play"] if module else [sys.executable, "othello/play.py"]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt")


def test_games_json():
    out = run_cli("--games", "2", "--opponent", "random", "--player", "greedy", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["games"] == 2 and result["wins"] + result["draws"] + result["losses"] == 2
    assert result["player"] == "greedy" and result["opponent"] == "random"
    assert 0 <= result["score_ci95"][0] <= result["score"] <= result["score_ci95"][1] <= 1


def test_games_text_as_module(tiny_checkpoint):
    out = run_cli("--games", "3", "--player", f"policy:{tiny_checkpoint}", "--opponent", "alphabeta:1",
                  module=True)
    assert out.returncode == 0, out.stderr
    assert "policy:tiny.pt vs alphabeta:1: 3 games" in out.stdout


def test_bad_spec_is_one_line_error():
    out = run_cli("--games", "2", "--player", "nonsense")
    assert out.returncode != 0 and "unknown player spec 'nonsense'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_human_scripted_session(tiny_checkpoint):
    # start position: Black's legal moves are b3 c2 d5 e4
    script = "z9\na1\npass\nundo\nhint\nC2\nundo\nhint\nquit\n"
    out = run_cli("--human", "--opponent", str(tiny_checkpoint), "--search.sims", "4", stdin=script)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "'z9' is not a square" in text
    assert "a1 is not a legal move" in text
    assert "You cannot pass" in text
    assert "Nothing to undo" in text
    assert text.count("would play") == 2
    assert "AI (O) plays" in text and "Took back your last move" in text
    assert "You quit." in text
    assert "   a b c d e f" in text and "X (Black) 2   O (White) 2" in text


def test_human_eof_ends_cleanly(tiny_checkpoint):
    out = run_cli("--human", "--color", "white", "--opponent", f"policy:{tiny_checkpoint}", stdin="")
    assert out.returncode == 0, out.stderr
    assert "AI (X) plays" in out.stdout and "End of input" in out.stdout


def test_human_full_game(monkeypatch, capsys):
    """Type every square in turn (and pass) until one is accepted: the game runs to its end."""
    tries = itertools.cycle([game.action_name(a) for a in range(game.ACTIONS)])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(tries))
    score = human_game(GreedyPlayer(seed=0), human_black=False)
    text = capsys.readouterr().out
    assert score in (0.0, 0.5, 1.0)
    assert "Game over: X (Black)" in text


def test_missing_shipped_model_is_reported(tmp_path, monkeypatch):
    missing = tmp_path / "models" / "othello6x6.pt"
    monkeypatch.setattr("alphazero.agents.SHIPPED", missing)
    monkeypatch.setattr("othello.play.SHIPPED", missing)
    cfg = Config(search=SearchConfig(sims=4))
    with pytest.raises(SystemExit, match="shipped model .* does not exist"):
        build_player("shipped", cfg, seed=0)


def test_mode_is_required_and_flags_are_dotted():
    """Exactly one of --human / --games; the shared settings come as dotted flags (no --sims, no --depth)."""
    none = run_cli()
    assert none.returncode != 0 and "choose one of --human" in none.stderr
    assert len(none.stderr.strip().splitlines()) == 1
    old = run_cli("--games", "2", "--depth", "3")
    assert old.returncode != 0
    out = run_cli("--games", "2", "--player", "greedy", "--opponent", "random", "--rules.opening-plies", "0",
                  "--search.sims", "2", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["games"] == 2


def test_default_players_use_the_checkpoint_setting(tiny_checkpoint):
    """An empty --player/--opponent is MCTS (--search.sims) on --checkpoint, so that flag is never ignored."""
    player = build_player("", Config(checkpoint=str(tiny_checkpoint), search=SearchConfig(sims=3)), seed=0)
    assert player.name == "mcts3:tiny.pt"
