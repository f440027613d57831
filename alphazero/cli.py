"""Command-line flags generated from a config dataclass.

Each field becomes `--field-name` with its default (a bool field a switch,
`--name` / `--no-name`), and its help text is the
field's one-line source comment, so the dataclass stays the single place where a
setting and its documentation live (`--help` shows both).
"""
import argparse
import dataclasses
import inspect
import re


def _field_comments(cls):
    comments = {}
    for line in inspect.getsource(cls).splitlines():
        m = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.*)", line)
        if m:
            comments[m.group(1)] = m.group(2).strip()
    return comments


def add_dataclass_args(parser, cls, skip=()):
    """Add one flag per field of dataclass `cls` (defaults and help from the class)."""
    comments = _field_comments(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, flag = type(f.default), "--" + f.name.replace("_", "-")
        text = comments.get(f.name, "").replace("%", "%%")  # argparse formats help with %
        if kind is bool:  # a switch: --resume / --no-resume
            parser.add_argument(flag, dest=f.name, default=f.default, action=argparse.BooleanOptionalAction,
                                help=text + " (default: %(default)s)")
        else:
            parser.add_argument(flag, dest=f.name, default=f.default, type=kind, metavar=kind.__name__.upper(),
                                help=text + " (default: %(default)s)")
    return parser


def dataclass_from_args(cls, args):
    """Build `cls` from the parsed flags that match its fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(args).items() if k in names})
