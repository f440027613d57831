"""The toolkit's one config tree, its JSON form, and the command line of every entry point.

    Config                      (this file: what every stage shares)
      rules     othello/config.py      RulesConfig
      net       alphazero/config.py    NetConfig
      search    alphazero/config.py    SearchConfig
      selfplay  alphazero/config.py    SelfPlayConfig
      train     alphazero/config.py    TrainConfig
      collect   sae/config.py          CollectConfig
      sae       sae/config.py          SAETrainConfig
      vis       vis/config.py          VisConfig

Each field is defined once, in its section, with a one-line comment that `--help` shows.
Every entry point takes the same dotted flags (`--search.sims 200`, `--sae.steps 500`) and
`--config FILE` (a JSON tree, e.g. a run's saved config.json: its settings apply first, flags
override them). Every artifact stores `to_dict(cfg)` verbatim, so a run can be repeated from it.
This module sits on top of the packages (it imports all their sections); library code takes
sections, never the root.
"""
import dataclasses
import json
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

import tyro

from alphazero.config import NetConfig, SearchConfig, SelfPlayConfig, TrainConfig
from othello.config import RulesConfig
from sae.config import CollectConfig, SAETrainConfig
from vis.config import VisConfig

CONFIG_FORMAT = "othello-sae-config/1"


class ConfigError(ValueError):
    """A config file or value that cannot be honoured (the message names the file and key)."""


@dataclass(frozen=True)
class Config:
    config: str = ""             # JSON file of settings applied before the flags (e.g. a run's config.json)
    checkpoint: str = "shipped"  # network studied: a checkpoint path, or 'shipped' (models/othello6x6.pt)
    site: str = "resid.2"        # activation site(s): embed, resid.L (after block L; 'layer 2' = resid.2), a comma list, or all
    device: str = "cpu"          # torch device: cpu, cuda, cuda:1, ... or auto (cuda where present)
    seed: int = 0                # seed of every random choice of the run
    wandb: bool = False          # log curves to Weights & Biases (needs `pip install wandb`)
    rules: RulesConfig = RulesConfig()        # matches between players
    net: NetConfig = NetConfig()              # network shape (of a new network; a checkpoint keeps its own)
    search: SearchConfig = SearchConfig()     # batched MCTS
    selfplay: SelfPlayConfig = SelfPlayConfig()  # self-play games
    train: TrainConfig = TrainConfig()        # AlphaZero training
    collect: CollectConfig = CollectConfig()  # activation collection
    sae: SAETrainConfig = SAETrainConfig()    # SAE training and evaluation
    vis: VisConfig = VisConfig()              # viewer data


# --- JSON form: plain nested dicts, read strictly ---

def to_dict(cfg):
    """The config as plain JSON data (tuples become lists), with its format tag."""
    return json.loads(json.dumps({"format": CONFIG_FORMAT, **dataclasses.asdict(cfg)}))


def _coerce(value, tp, where):
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, item, where) for v in value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(data, cls=Config, source="config", prefix="", base=None):
    """Build `cls` from a (partial) dict over `base` (default: the class defaults).

    Unknown keys and wrong types are ConfigErrors naming `source` and the dotted key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix or 'config'}' must be a JSON object, got {type(data).__name__}")
    base = cls() if base is None else base
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key == "format" and not prefix:
            if value != CONFIG_FORMAT:
                raise ConfigError(f"{source}: config format '{value}' is not '{CONFIG_FORMAT}'")
            continue
        where = f"{source}: {prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{where} is not a setting (known: {', '.join(fields)})")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            values[key] = from_dict(value, tp, source, f"{prefix}{key}.", getattr(base, key))
        else:
            values[key] = _coerce(value, tp, where)
    return dataclasses.replace(base, **values)


def load_config(path, base=None):
    """Read a config file: a JSON tree as `to_dict` writes it, or an artifact's JSON holding one under 'config'."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} is not a readable JSON config ({type(e).__name__}: {e})") from None
    if isinstance(data, dict) and data.get("format") != CONFIG_FORMAT and isinstance(data.get("config"), dict):
        data = data["config"]  # an artifact (manifest, sweep report, viewer index) that records its config
    return dataclasses.replace(from_dict(data, Config, str(path), base=base), config=str(path))


def save_config(path, cfg):
    """Write `cfg` as JSON (atomically) so the run can be repeated with `--config PATH`."""
    from othello.atomic import atomic_write_json
    return atomic_write_json(path, to_dict(cfg))


# --- command line ---

def _config_file(argv):
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return ""


def parse(args_cls=Config, argv=None, description=None, preset=None):
    """Parse an entry point's command line into `args_cls`.

    `args_cls` is `Config` or a frozen dataclass of the script's own options with a field
    `cfg: Annotated[Config, tyro.conf.arg(name="")]` (so the tree's flags stay un-prefixed).
    Settings apply in order: class defaults, `preset` (a partial dict, e.g. the pipeline's
    small sizes), `--config FILE`, then the flags. A bad file exits with a one-line error.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        base = from_dict(preset, Config, "preset") if preset else Config()
        if _config_file(argv):
            base = load_config(_config_file(argv), base)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    default = base if args_cls is Config else args_cls(cfg=base)
    return tyro.cli(args_cls, args=argv, default=default, description=description)


def resolve_device(device):
    """'auto' -> cuda where present, else cpu; a cuda device that is absent is a one-line error."""
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"error: device '{device}' requested but CUDA is not available here")
    return device


def require_wandb():
    """Import wandb for `--wandb`, or exit with a one-line error saying how to get it."""
    try:
        import wandb
    except ModuleNotFoundError:
        sys.exit("error: --wandb needs the wandb package: pip install wandb (or run without --wandb)")
    return wandb
