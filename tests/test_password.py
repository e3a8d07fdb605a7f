"""How a user gives the password of an encrypted backup: a file, the environment, or the terminal.

Files are real files (and a real pipe); the environment is the process's own (set through
monkeypatch, which restores it); the terminal is a real pseudo-terminal with a Python
child on it, whose screen output is checked for the password never being echoed.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backupfs.errors import BackupfsError
from backupfs.password import _MAX_LINE, ENV_VAR, HOW_TO_GIVE, obtain_password, wipe

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_password_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the variable, whatever the shell running pytest has set."""
    monkeypatch.delenv(ENV_VAR, raising=False)


def password_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "password"
    path.write_bytes(content)
    return path


# ---- the password file ----


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"secret\n", b"secret"),
        (b"secret\r\nsecond line\r\n", b"secret"),
        (b"secret", b"secret"),
        (b"first\nsecond\n", b"first"),
        (b"  spaced out \t\n", b"  spaced out \t"),  # nothing but the line ending is taken off
        (b"carriage\rinside\n", b"carriage\rinside"),
        (b"\xff\xfe s\xe9cret \x80\n", b"\xff\xfe s\xe9cret \x80"),  # not UTF-8: the bytes as they are
        ("pässwörd 🔑\n".encode(), "pässwörd 🔑".encode()),
        (b"x" * _MAX_LINE + b"\n", b"x" * _MAX_LINE),
    ],
    ids=["lf", "crlf", "no-newline", "two-lines", "spaces", "inner-cr", "not-utf8", "utf8", "longest"],
)
def test_the_file_gives_its_first_line_as_bytes(tmp_path: Path, content: bytes, expected: bytes) -> None:
    secret = obtain_password(password_file(tmp_path, content), ask=False, prompt="Password: ")
    assert isinstance(secret, bytearray)
    assert bytes(secret) == expected


def test_the_file_may_be_a_pipe(tmp_path: Path) -> None:
    """``--password-file <(pass show backup)``: a pipe, whose size is not known in advance."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"from a pipe\nnot this\n")
        os.close(write_end)
        secret = obtain_password(Path(f"/dev/fd/{read_end}"), ask=False, prompt="Password: ")
    finally:
        os.close(read_end)
    assert secret is not None and bytes(secret) == b"from a pipe"


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"\nthe password on line two\n"])
def test_an_empty_first_line_is_an_error_that_says_so(tmp_path: Path, content: bytes) -> None:
    path = password_file(tmp_path, content)
    with pytest.raises(BackupfsError) as raised:
        obtain_password(path, ask=False, prompt="Password: ")
    assert str(raised.value).startswith(f"the password file {path} is empty: ")
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_named_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "no such file"
    with pytest.raises(BackupfsError) as raised:
        obtain_password(path, ask=False, prompt="Password: ")
    message = str(raised.value)
    assert message.startswith(f"cannot read the password file {path} (No such file or directory): ")
    assert "--password-file" in message and "\n" not in message


def test_an_unreadable_file_is_named_with_the_reason(tmp_path: Path) -> None:
    """A directory stands for an unreadable file: tests run as root, whom chmod 000 does not stop."""
    with pytest.raises(BackupfsError) as raised:
        obtain_password(tmp_path, ask=False, prompt="Password: ")
    message = str(raised.value)
    assert message.startswith(f"cannot read the password file {tmp_path} (Is a directory): ")
    assert "\n" not in message


def test_a_first_line_too_long_for_a_password_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = password_file(tmp_path, b"y" * (_MAX_LINE + 1))
    with pytest.raises(BackupfsError) as raised:
        obtain_password(path, ask=False, prompt="Password: ")
    assert str(raised.value).startswith(f"the first line of the password file {path} is longer than ")
    assert "yyyy" not in str(raised.value)


# ---- the environment ----


def test_the_environment_gives_it_and_loses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "pässwörd from env")
    secret = obtain_password(None, ask=False, prompt="Password: ")
    assert secret is not None and bytes(secret) == "pässwörd from env".encode()
    assert ENV_VAR not in os.environ
    inherited = subprocess.run(
        [sys.executable, "-c", f"import os; print(os.environ.get({ENV_VAR!r}))"],
        capture_output=True, text=True, check=True,
    )
    assert inherited.stdout.strip() == "None"  # a child process does not inherit it


def test_the_environment_gives_the_bytes_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that is not UTF-8 comes back as the very bytes (os.environ holds them surrogate-escaped)."""
    monkeypatch.setenv(ENV_VAR, os.fsdecode(b"caf\xe9 \xff"))
    secret = obtain_password(None, ask=False, prompt="Password: ")
    assert secret is not None and bytes(secret) == b"caf\xe9 \xff"


def test_an_empty_variable_is_not_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "")
    assert obtain_password(None, ask=False, prompt="Password: ") is None
    assert ENV_VAR not in os.environ


def test_the_file_wins_over_the_environment_which_is_removed_all_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "from the environment")
    secret = obtain_password(password_file(tmp_path, b"from the file\n"), ask=False, prompt="Password: ")
    assert secret is not None and bytes(secret) == b"from the file"
    assert ENV_VAR not in os.environ


# ---- nothing given, no terminal ----


def test_without_a_terminal_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    with open(os.devnull) as not_a_terminal:
        monkeypatch.setattr(sys, "stdin", not_a_terminal)
        assert obtain_password(None, ask=True, prompt="Password: ") is None
        assert obtain_password(None, ask=False, prompt="Password: ") is None


# ---- the terminal ----

CHILD = textwrap.dedent(
    """
    import termios
    from backupfs.errors import BackupfsError
    from backupfs.password import obtain_password

    print("not asked:", obtain_password(None, False, "Password: "), flush=True)
    try:
        secret = obtain_password(None, True, "Password: ")
        print("RESULT", secret.hex(), flush=True)
    except BackupfsError as error:
        print("ERROR", error, flush=True)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    echo = termios.tcgetattr(0)[3] & termios.ECHO
    print("ECHO", "on" if echo else "off", flush=True)
    """
)


def type_at_the_prompt(keys: bytes, seconds: float = 30) -> str:
    """Run CHILD on a pseudo-terminal, type ``keys`` once it shows the prompt; everything the terminal showed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        try:
            env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
            env.update(PYTHONPATH=str(REPO), LC_ALL="C.UTF-8")
            os.execve(sys.executable, [sys.executable, "-c", CHILD], env)
        finally:
            os._exit(127)
    shown = b""
    typed = False
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            # Typed only once the prompt shows: getpass turns the echo off before it writes it.
            if not typed and b"Password: " in shown:
                os.write(terminal, keys)
                typed = True
            ready, _, _ = select.select([terminal], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(terminal, 65536)
                except OSError:  # the terminal is gone with the child
                    break
                if not chunk:
                    break
                shown += chunk
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the child did not end within {seconds:.0f} s:\n{shown!r}")
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, shown
    return shown.decode(errors="replace")


def test_the_terminal_asks_without_echo() -> None:
    password = "Sécret zq9 kiwi 🔑"
    shown = type_at_the_prompt(password.encode() + b"\n")
    assert "not asked: None" in shown  # ask=False never prompts, even on a terminal
    assert "Password: " in shown
    assert f"RESULT {password.encode().hex()}" in shown
    for piece in ("Sécret", "zq9", "kiwi", "🔑"):
        assert piece not in shown, f"{piece!r} was echoed: {shown!r}"
    assert "ECHO on" in shown  # the echo is back after the prompt


def test_an_empty_answer_is_an_error_that_says_how_to_give_it() -> None:
    shown = type_at_the_prompt(b"\n")
    assert f"ERROR no password given: {HOW_TO_GIVE}" in shown


def test_ctrl_d_at_the_prompt_is_no_password() -> None:
    shown = type_at_the_prompt(b"\x04")
    assert "ERROR no password given: " in shown


def test_ctrl_c_at_the_prompt_interrupts_and_restores_the_echo() -> None:
    shown = type_at_the_prompt(b"half a kiwi\x03")
    assert "INTERRUPTED" in shown
    assert "kiwi" not in shown
    assert "ECHO on" in shown


def test_bytes_that_are_not_text_at_the_prompt_say_what_to_do() -> None:
    shown = type_at_the_prompt(b"\xff\xfe\n")
    assert "ERROR the password typed is not text in the terminal's encoding: " in shown
    assert "ECHO on" in shown


# ---- keeping it secret ----


def test_the_password_shows_in_no_repr_str_or_exception(tmp_path: Path) -> None:
    secret = obtain_password(password_file(tmp_path, b"hunter2\n"), ask=False, prompt="Password: ")
    assert secret is not None
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", str(BackupfsError(secret)), repr([secret])):
        assert "hunter2" not in shown and "hunter" not in shown
    assert "7 bytes" in repr(secret)


def test_wipe_zeroes_in_place_and_empties() -> None:
    secret = bytearray(b"hunter2")
    wipe(secret)
    assert secret == bytearray()


def test_wipe_zeroes_the_very_memory_even_when_it_cannot_empty_it() -> None:
    secret = bytearray(b"hunter2")
    with memoryview(secret) as view:  # an export pins the memory: what it sees is what the bytearray held
        wipe(secret)
        assert view.tobytes() == bytes(7)
    assert secret == bytearray(7)


def test_a_password_obtained_can_be_wiped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "from env")
    secret = obtain_password(None, ask=False, prompt="Password: ")
    assert secret is not None
    wipe(secret)
    assert len(secret) == 0
