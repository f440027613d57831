"""Settings of the viewer-data stage (nested under the root in config.py)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class VisConfig:
    out: str = "vis/data"        # viewer data folder, replaced as a whole (the page reads vis/data)
    top: int = 16                # top-activating boards per feature
    bands: int = 4               # activation quantile bands per feature
    per_band: int = 4            # sampled boards per band
    effect_samples: int = 32     # firing positions per feature used to estimate its effect on policy and value
    similar: int = 8             # most similar features (decoder cosine) listed per feature
    shard_size: int = 64         # features per detail shard
    max_positions: int = 0       # use only the first N held-out rows (0 = all)
    only: str = ""               # comma-separated SAE folder names to include ('' = all)
    check: bool = False          # only report whether OUT is stale against the SAE and store folders
