#!/bin/sh
# Pictures of the readable folder, as docs/ holds them: a file manager (pcmanfm under Xvfb)
# on "0 Your data" and on its Messages folder, and headless Chromium on one conversation
# and one note. The backup is the renderers' fixture backup (tests/fs/test_readable_mount.py)
# with the demo's address book, its Manifest.db gone. Needs root on Debian/Ubuntu, from a
# checkout with .venv set up as the README says.
# Usage: sh contrib/readable_screenshots.sh [OUTPUT_FOLDER]   (default: docs)
set -eu
out=$(realpath "${1:-docs}")
repo=$(dirname "$(dirname "$(realpath "$0")")")
work=$(mktemp -d /tmp/backupfs-shots.XXXXXX)
mnt="$work/Emma's iPhone"
apt-get install -y -q xvfb pcmanfm chromium imagemagick fonts-noto-color-emoji >/dev/null
cd "$repo"
.venv/bin/python - "$work/backup" <<'EOF'
import sys
from pathlib import Path

from backupfs.demo import samples
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup
from tests.fs.test_readable_mount import everything

specs, _ = everything()
specs = [s for s in specs if not s.relative_path.startswith("Library/AddressBook/")]
specs.append(PayloadSpec("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb", samples.address_book()))
info, manifest, status = default_plists(device_name="Emma's iPhone", ios="17.1")
write_backup(Path(sys.argv[1]), specs, index="none", info=info, manifest_plist=manifest, status=status)
EOF
mkdir -p "$mnt" "$out"
.venv/bin/backupfs mount "$work/backup" "$mnt" --index-dir "$work/index" >/dev/null
trap '.venv/bin/backupfs unmount "$mnt" >/dev/null; kill $xvfb 2>/dev/null; rm -rf "$work"' EXIT
ls "$mnt/0 Your data/Messages" >/dev/null  # waits until the folder is planned

Xvfb :97 -screen 0 900x400x24 >/dev/null 2>&1 & xvfb=$!
sleep 2  # until it takes connections
mkdir -p "$HOME/.config/pcmanfm/default"
printf '[ui]\nwin_width=900\nwin_height=400\nmaximized=1\nside_pane_mode=places\nview_mode=list\n' \
    > "$HOME/.config/pcmanfm/default/pcmanfm.conf"
for folder in "0 Your data" "0 Your data/Messages"; do
    DISPLAY=:97 pcmanfm --no-desktop "$mnt/$folder" >/dev/null 2>&1 & fm=$!
    sleep 5
    DISPLAY=:97 import -window root "$work/$(basename "$folder").png"
    kill $fm 2>/dev/null || true
done
convert "$work/0 Your data.png" "$work/Messages.png" -background '#888' -splice 0x4 -append "$out/readable-folder.png"

shoot() {  # shoot PAGE PNG
    url="file://$(.venv/bin/python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")"
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=820,1000 \
        --screenshot="$2" "$url" >/dev/null 2>&1
}
shoot "$mnt/0 Your data/Messages/Alex Martin.html" "$out/conversation.png"
shoot "$mnt/0 Your data/Notes/Travel/Japan 2023/Ramen in Tokyo.html" "$out/note.png"
echo "wrote $out/readable-folder.png, $out/conversation.png, $out/note.png"
