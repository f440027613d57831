"""NetEvaluator: the network as MCTS's `evaluate(me, opp) -> (priors, values)`, one forward pass per batch."""
import numpy as np
import torch

from alphazero.config import NetConfig
from alphazero.inference import NetEvaluator, boards_tensor, uniform_evaluate
from alphazero.network import AlphaZeroNet, value_from_logits
from othello import game
from othello.sampling import random_positions


def test_priors_and_values_match_the_network():
    torch.manual_seed(0)
    net = AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32)).eval()
    forwards = []
    net.register_forward_hook(lambda mod, inp, out: forwards.append(inp[0].shape[0]))
    ev = NetEvaluator(net)
    me, opp = random_positions(50, seed=2)
    priors, values = ev(me, opp)
    assert forwards == [50] and (ev.calls, ev.positions) == (1, 50)  # the whole batch in one call
    assert priors.shape == (50, game.ACTIONS) and values.shape == (50,)
    assert priors.dtype == values.dtype == np.float32
    np.testing.assert_allclose(priors.sum(1), 1, rtol=1e-5)
    with torch.no_grad():
        logits, v_logits = net(boards_tensor(me, opp))
    np.testing.assert_allclose(values, value_from_logits(v_logits).numpy(), atol=1e-6)
    np.testing.assert_allclose(priors, torch.softmax(logits, -1).numpy(), atol=1e-6)
    ev(me[:7], opp[:7])
    assert forwards == [50, 50, 7] and (ev.calls, ev.positions) == (2, 57)


def test_boards_tensor_is_the_movers_view():
    me, opp = game.initial(2)
    x = boards_tensor(me, opp)
    assert x.shape == (2, 36) and x.dtype == torch.float32
    assert x[0, 2 * 6 + 3] == 1 and x[0, 2 * 6 + 2] == -1 and x[0].abs().sum() == 4


def test_uniform_evaluate():
    p, v = uniform_evaluate(*game.initial(3))
    assert p.shape == (3, 37) and np.allclose(p.sum(1), 1) and (v == 0).all()
