"""Sparse autoencoders on the AlphaZero network's residual stream.

config       CollectConfig, SAETrainConfig, EVAL_SPLIT      collect   stage: checkpoint -> activation store
activations  activation store (format, writer, reader)      train     stage: store -> trained SAEs -> sweep report
base, archs  SAE interface; relu, topk, batchtopk, jumprelu, gated (+ recipe constants, SAEConfig)
resample     dead-feature tracking and resampling           sweeps    named grids, sae_configs(section)
metrics      reconstruction / sparsity metrics              downstream  splice SAEs into the network
concepts     board-concept evaluation                       report    evaluate once + export + sweep report
export       SAE folders (SAELens layout + metrics.json): fold, export_sae, load_sae, load_metrics
sweep_report sweep.json: write_sweep_report, read_sweep_report   plots  hand-written SVG plots
"""
