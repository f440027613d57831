"""AlphaZero for 6x6 Othello: network, batched MCTS, self-play, training stage, checkpoints and network players."""
