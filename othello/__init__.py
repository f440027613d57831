"""6x6 Othello: batched bitboard rules, symmetries, players and command-line tools."""
