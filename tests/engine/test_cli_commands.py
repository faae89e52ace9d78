"""The ``tagatlas`` command list is explicit (engine.cli.COMMANDS): every command module is in
it, and every listed command, and every ``tagatlas-train`` command, answers ``--help``."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import engine.cli
from engine.cli import COMMANDS, build_parser

CLI_DIR = Path(engine.cli.__file__).parent


def _defines_register(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == "register" for node in tree.body)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_module_is_listed_and_every_listed_module_exists():
    modules = {p.stem for p in CLI_DIR.glob("*.py") if _defines_register(p)}
    assert modules, "no command module found"
    missing = sorted(modules - set(COMMANDS))
    assert not missing, f"engine/cli modules defining register() but not in COMMANDS: {missing}"
    absent = sorted(set(COMMANDS) - modules)
    assert not absent, f"COMMANDS names modules that do not exist or define no register(): {absent}"
    assert len(COMMANDS) == len(set(COMMANDS))


def test_help_lists_the_commands_in_the_order_of_the_list():
    names = list(_subcommands(build_parser()))
    assert names[:2] == ["scan", "tag"] and "playlist" in names and "path" in names
    order = []
    for module in COMMANDS:            # each module's commands appear where the module is listed
        sub = argparse.ArgumentParser().add_subparsers()
        __import__(f"engine.cli.{module}", fromlist=["register"]).register(sub)
        order += list(sub.choices)
    assert names == order


@pytest.mark.parametrize("command", list(_subcommands(build_parser())))
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        engine.cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tagatlas {command}")


def test_no_command_prints_help_and_exits_2(capsys):
    assert engine.cli.main([]) == 2
    out = capsys.readouterr().out
    assert "usage: tagatlas" in out and "exit codes: 0" in out


def _train_commands() -> dict[str, argparse.ArgumentParser]:
    from training.cli import build_parser as train_parser

    out = {}
    for name, p in _subcommands(train_parser()).items():
        subs = _subcommands(p)
        out.update({f"{name} {s}": q for s, q in subs.items()} if subs else {name: p})
    return out


@pytest.mark.parametrize("command", list(_train_commands()))
def test_every_training_command_answers_help(command, capsys):
    from training.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*command.split(), "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: tagatlas-train {command}")
