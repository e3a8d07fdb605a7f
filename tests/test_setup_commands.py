"""The README's two set-up commands, as a newcomer pastes them: as root without sudo, or with sudo.

The commands run for real under ``/bin/sh``, with every program they call replaced by a
stand-in on ``PATH`` that records how it was called, so what is checked is the shell's own
reading of the commands: which programs run, in which order, with or without ``sudo``.
``contrib/fresh_debian_check.sh`` runs them for real on a fresh Debian.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    """The shell blocks of the README's "Set up" section: the demo command, then the test command."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def stand_in(path: Path, log: Path, runs_the_rest: bool = False) -> None:
    """A program that writes its name and arguments to ``log``; ``sudo``'s runs the command it is given."""
    tail = '\nexec "$@"' if runs_the_rest else "\nexit 0"
    path.write_text(f"#!/bin/sh\necho \"${{0##*/}} $*\" >> {log}{tail}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_as_pasted(command: str, tmp_path: Path, with_sudo: bool) -> list[str]:
    """Run ``command`` in a fresh folder where every program it calls is a stand-in; what was called."""
    bin_dir, work, log = tmp_path / "bin", tmp_path / "clone", tmp_path / "calls.log"
    (work / ".venv" / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    for program in ("apt-get", "python3"):
        stand_in(bin_dir / program, log)
    if with_sudo:
        stand_in(bin_dir / "sudo", log, runs_the_rest=True)
    for program in ("pip", "python", "backupfs"):
        stand_in(work / ".venv" / "bin" / program, log)
    environment = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(["/bin/sh", "-c", command], cwd=work, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines()


def test_the_readme_has_two_setup_commands_and_ci_runs_the_second_verbatim() -> None:
    demo, tests = setup_commands()
    assert demo.endswith("backupfs demo") and tests.endswith("python -m pytest")
    assert tests in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("with_sudo", [False, True], ids=["root-without-sudo", "user-with-sudo"])
def test_the_demo_command_runs_with_or_without_sudo(tmp_path: Path, with_sudo: bool) -> None:
    demo, _ = setup_commands()
    calls = run_as_pasted(demo, tmp_path, with_sudo)
    root = ["sudo apt-get update", "apt-get update", "sudo apt-get install -y python3-venv fuse3",
            "apt-get install -y python3-venv fuse3"]
    expected_root = root if with_sudo else root[1::2]
    assert calls == [*expected_root, "python3 -m venv .venv", "pip install .", "backupfs demo"]


@pytest.mark.parametrize("with_sudo", [False, True], ids=["root-without-sudo", "user-with-sudo"])
def test_the_test_command_runs_with_or_without_sudo(tmp_path: Path, with_sudo: bool) -> None:
    _, tests = setup_commands()
    calls = run_as_pasted(tests, tmp_path, with_sudo)
    sudo = ["sudo apt-get update"] if with_sudo else []
    assert calls[: len(sudo) + 1] == [*sudo, "apt-get update"]
    assert "python3 -m venv .venv" in calls and "pip install -e .[test]" in calls
    # The tests run as root: some mount as another user, or without root's privileges.
    run_tests = ["sudo .venv/bin/python -m pytest", "python -m pytest"] if with_sudo else ["python -m pytest"]
    assert calls[-len(run_tests):] == run_tests


def test_the_demo_folder_is_not_offered_to_git() -> None:
    """``backupfs demo`` run in a clone writes ./backupfs-demo, which must not show as a change."""
    result = subprocess.run(["git", "check-ignore", "-q", "backupfs-demo/backup/Info.plist"], cwd=REPO)
    assert result.returncode == 0
