"""Help a person can act on: every command says what it does and shows an example; every argument is explained."""

from __future__ import annotations

import argparse

import pytest

from backupfs.cli import _parser
from tests.conftest import run_cli

COMMANDS = ("mount", "unmount", "info", "report", "demo")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_listed_with_what_it_does() -> None:
    shown = run_cli("--help").stdout
    assert "Mount an iPhone or iPad backup" in shown and "example:" in shown
    for command in COMMANDS:
        assert f"    {command} " in shown


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_a_description_an_example_and_explained_arguments(command: str) -> None:
    parser = subcommands()[command]
    assert parser.description and len(parser.description.split(". ")) >= 2, parser.description  # a paragraph
    shown = run_cli(command, "--help").stdout
    example = shown.split("example:\n", 1)[1]
    assert example.lstrip().startswith(f"backupfs {command}"), example
    for action in parser._actions:
        if action.help != argparse.SUPPRESS:
            assert action.help and len(action.help) > 15, (command, action.dest)


def test_the_catalog_option_says_it_replaces_the_built_in_one() -> None:
    shown = " ".join(run_cli("mount", "--help").stdout.split())
    assert "instead of the built-in one" in shown
    assert "an empty folder to show the backup in" in shown and "MobileSync Backup folder" in shown
