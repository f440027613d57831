"""Settings of the rules layer: how matches between players are opened.

Every setting of the toolkit lives in one frozen dataclass per stage, each field defined
once with a one-line comment; `config.py` at the repo root nests them into one tree.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class RulesConfig:
    opening_plies: int = 4        # uniformly random plies that open each pair of match games (colours swapped)
