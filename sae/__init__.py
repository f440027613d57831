"""Sparse autoencoders on the AlphaZero network's residual stream.

activations  activation store (writer + memory-mapped reader, split by game)
archs        SAE architectures: relu, topk, batchtopk, jumprelu, gated
resample     dead-feature tracking and resampling
train        lockstep sweep trainer (resumable)
sweeps       named grids          metrics     reconstruction / sparsity metrics
downstream   splice SAEs into the network   concepts  board-concept evaluation
export       SAELens folders, load_sae      report    evaluate + export + scaling.json
plots        hand-written SVG plots         synthetic random-network stores, planted data
"""
