#!/usr/bin/env bash
# fresh_debian_check.sh: prove that the README's two "## Set up" commands work on a fresh Debian.
#
# What it proves: on a freshly debootstrapped Debian (bookworm, minbase by default: nothing
# installed beyond Priority "required" and apt, no pip configuration, no local wheels, so
# packages come from deb.debian.org and PyPI as on a new machine), the two ```sh commands of
# README.md's "## Set up" section, taken verbatim from the copy of the repository under test
# and run with `bash -c` from that copy's folder, succeed:
#   a. as root, sudo NOT installed (a container or rescue system);
#   b. as root, sudo installed;
#   c. as a normal user (useradd -m, in group sudo, passwordless sudo), sudo installed.
# In each scenario the demo command runs first, then the test command, in the same clone,
# as a person following the README would. Every scenario starts from a fresh copy of the
# pristine debootstrap result, never from one an earlier scenario installed packages into.
#
# How to run (as root; needs network to the Debian mirror and PyPI, ~2 GB under the work folder):
#   contrib/fresh_debian_check.sh                 # the repository holding this script, at HEAD
#   contrib/fresh_debian_check.sh --worktree      # ... its working tree, uncommitted changes too
#   contrib/fresh_debian_check.sh --repo /path/to/clone --ref some-branch --scenarios a,c
# Options:
#   --work DIR        work folder (default /var/tmp/fresh-debian); the pristine system
#                     (pristine-SUITE-VARIANT.tar) is built there once and reused, logs go to
#                     DIR/runs/TIMESTAMP/ (DIR/runs/latest points to the last run)
#   --repo PATH       repository to test (default: the one holding this script)
#   --ref REF         commit to test (default HEAD); a `git clone` of it is put in the chroot
#   --worktree        test the working tree instead: a clone at HEAD, then the working tree's
#                     tracked and untracked-not-ignored files copied over it (deleted files removed)
#   --scenarios LIST  comma-separated subset of a,b,c (default a,b,c)
#   --suite S         Debian suite (default bookworm); --mirror URL (default http://deb.debian.org/debian)
#   --variant V       debootstrap variant: minbase (default) or standard (debootstrap's default set)
#   --rebuild         build the pristine system again even if present
#   --timeout SECONDS per README command (default 3600)
#   --no-host-ca      do not copy the host's /usr/local/share/ca-certificates/*.crt (see below)
# Exit status: 0 when every command passed, 1 when any failed, 2 on a usage or set-up error.
#
# Mounts: each scenario's chroot gets /proc, /sys and /dev/pts bind-mounted from the host, and
# a copy of the host's /etc/resolv.conf. Its /dev is NOT the host's /dev bind-mounted: it is a
# small tmpfs holding the usual nodes made with mknod (null, zero, full, random, urandom, tty,
# ptmx) and its own /dev/fuse (c 10 229) with mode 0666, as udev gives it on a normal Debian.
# The host's /dev/fuse here is crw------- (root only), which would make a normal user's mount
# through the setuid fusermount3 fail for a reason no real Debian machine has; making the
# chroot's own node leaves the host's untouched. /dev/shm is a tmpfs of its own.
# A trap unmounts everything mounted under the chroots on any exit (FUSE mounts left by the
# demo or the tests included: lazily unmounted first, so their daemons end), ends the processes
# still running inside the chroots (found by their /proc/PID/root, ended by PID), and unmounts
# the bind mounts deepest first; nothing stays mounted when the script ends.
# Inside the chroot, /usr/sbin/policy-rc.d (exit 101) keeps packages from starting daemons,
# and /etc/hosts names the host name, as the Debian installer writes it (debootstrap does not).
#
# TLS: where this machine's network intercepts HTTPS with a CA of its own, that CA's public
# certificate sits in the host's /usr/local/share/ca-certificates/. Those *.crt files are
# copied to the same folder in the chroot (--no-host-ca to skip), so that when the README's
# command installs ca-certificates, its update-ca-certificates trusts them, as it would on a
# machine whose network does not intercept. Nothing else of the host's configuration goes in:
# no /etc/pip.conf, ~/.config/pip, PIP_* variables or local wheel folders; pip uses PyPI.
set -uo pipefail

WORK=/var/tmp/fresh-debian
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REF=HEAD
WORKTREE=0
SCENARIOS=a,b,c
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
VARIANT=minbase
REBUILD=0
TIMEOUT=3600
TESTUSER=tester
HOST_CA=1

usage() { sed -n '2,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "fresh_debian_check: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
        --work) WORK=${2:?}; shift ;;
        --repo) REPO=${2:?}; shift ;;
        --ref) REF=${2:?}; shift ;;
        --worktree) WORKTREE=1 ;;
        --scenarios) SCENARIOS=${2:?}; shift ;;
        --suite) SUITE=${2:?}; shift ;;
        --mirror) MIRROR=${2:?}; shift ;;
        --variant) VARIANT=${2:?}; shift ;;
        --rebuild) REBUILD=1 ;;
        --timeout) TIMEOUT=${2:?}; shift ;;
        --no-host-ca) HOST_CA=0 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

((EUID == 0)) || die "run as root (debootstrap, chroot and mounts need it)"
[[ $VARIANT == minbase || $VARIANT == standard ]] || die "--variant: minbase or standard"
WORK=$(realpath -m "$WORK")
REPO=$(realpath "$REPO") || die "no repository at $REPO"
git -c safe.directory='*' -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || die "$REPO is not a git repository"
((WORKTREE)) && [[ $REF != HEAD ]] && die "--worktree tests the working tree on top of HEAD; leave out --ref"
SHA=$(git -c safe.directory='*' -C "$REPO" rev-parse --verify --quiet "$REF^{commit}") || die "no commit $REF in $REPO"

IFS=, read -r -a list <<<"$SCENARIOS"
for s in "${list[@]}"; do [[ $s == [abc] ]] || die "--scenarios: a comma-separated subset of a,b,c"; done

PRISTINE=$WORK/pristine-$SUITE-$VARIANT.tar
RUN=$WORK/runs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN" || die "cannot create $RUN"
ln -sfn "$RUN" "$WORK/runs/latest"
SUMMARY=$RUN/summary.txt

# ---------------------------------------------------------------- mounts and cleanup

CHROOTS=()   # every folder whose mounts the trap must undo

mounts_under() {   # mount points at or below $1, deepest first (mountinfo escapes decoded)
    local root=$1 mp
    while read -r _ _ _ _ mp _; do
        mp=$(printf '%b' "$mp")
        [[ $mp == "$root" || $mp == "$root"/* ]] && printf '%s\n' "$mp"
    done </proc/self/mountinfo | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}

release_chroot() {   # end what runs in $1 and unmount everything below it
    local root=$1 mp pid pids tries
    [[ -d $root ]] || return 0
    # FUSE mounts first (the demo's, any a test left): a lazy unmount lets their daemons end.
    while read -r mp; do
        [[ -n $mp ]] || continue
        if [[ $(findmnt -n -o FSTYPE --mountpoint "$mp" 2>/dev/null) == fuse* ]]; then
            umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
        fi
    done < <(mounts_under "$root")
    # Processes still running inside this chroot were all started by this script: end them by PID.
    for tries in 1 2 3 4 5 6; do
        pids=()
        for pid in /proc/[0-9]*; do
            [[ $(readlink "$pid/root" 2>/dev/null) == "$root" ]] && pids+=("${pid#/proc/}")
        done
        ((${#pids[@]})) || break
        if ((tries < 4)); then kill -TERM "${pids[@]}" 2>/dev/null; else kill -KILL "${pids[@]}" 2>/dev/null; fi
        sleep 1
    done
    while read -r mp; do
        [[ -n $mp ]] || continue
        umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || echo "WARNING: could not unmount $mp" >&2
    done < <(mounts_under "$root")
    if [[ -n $(mounts_under "$root") ]]; then
        echo "WARNING: still mounted under $root:" >&2
        mounts_under "$root" >&2
        return 1
    fi
}

cleanup() {
    local c
    for c in "${CHROOTS[@]}"; do release_chroot "$c"; done
}
trap cleanup EXIT
CHILD=   # the README command running now: a signal ends it (by PID) before the trap's cleanup
on_signal() { [[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null; exit "$1"; }
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

remove_tree() {   # rm -rf, but never through a mount into the host
    local dir=$1
    [[ -e $dir ]] || return 0
    release_chroot "$dir" || die "$dir still has mounts; not removing it"
    rm -rf --one-file-system -- "$dir" || die "cannot remove $dir"
}

mount_chroot() {   # the kernel file systems a fresh system would have, see the header
    local root=$1
    mount --bind /proc "$root/proc" &&
    mount --bind /sys "$root/sys" &&
    mount -t tmpfs -o mode=0755,nosuid,size=16m chroot-dev "$root/dev" &&
    (
        cd "$root/dev" || exit 1
        mknod -m 0666 null c 1 3 && mknod -m 0666 zero c 1 5 && mknod -m 0666 full c 1 7 &&
        mknod -m 0666 random c 1 8 && mknod -m 0666 urandom c 1 9 && mknod -m 0666 tty c 5 0 &&
        mknod -m 0666 ptmx c 5 2 && mknod -m 0666 fuse c 10 229 &&
        ln -s /proc/self/fd fd && ln -s /proc/self/fd/0 stdin && ln -s /proc/self/fd/1 stdout &&
        ln -s /proc/self/fd/2 stderr && ln -s /proc/kcore core && mkdir pts shm && chmod 1777 shm
    ) &&
    mount --bind /dev/pts "$root/dev/pts" &&
    mount -t tmpfs -o mode=1777,nosuid,nodev chroot-shm "$root/dev/shm" &&
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
}

# ---------------------------------------------------------------- the pristine system

build_pristine() {
    local build=$WORK/build log=$RUN/debootstrap.log start
    if ! command -v debootstrap >/dev/null; then
        echo "Installing debootstrap on the host..."
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap; } >"$RUN/host-apt.log" 2>&1 ||
            die "could not install debootstrap, see $RUN/host-apt.log"
    fi
    remove_tree "$build"
    mkdir -p "$build"
    CHROOTS+=("$build")
    local args=()
    [[ $VARIANT == minbase ]] && args+=(--variant=minbase)
    echo "Building a pristine Debian $SUITE ($VARIANT) with debootstrap (log: $log)..."
    start=$EPOCHREALTIME
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin debootstrap "${args[@]}" "$SUITE" "$build" "$MIRROR" >"$log" 2>&1 </dev/null ||
        { tail -n 20 "$log" >&2; die "debootstrap failed, see $log"; }
    release_chroot "$build" || die "debootstrap left mounts under $build"
    # Only what debootstrap made: no resolv.conf, pip configuration or wheels of this host.
    rm -f "$build/etc/resolv.conf"
    tar -C "$build" --numeric-owner --xattrs --xattrs-include='*' -cpf "$PRISTINE.part" . ||
        die "could not archive $build"
    mv "$PRISTINE.part" "$PRISTINE"
    remove_tree "$build"
    printf 'Pristine system built in %.0fs: %s\n' "$(elapsed "$start")" "$PRISTINE"
}

elapsed() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }

# ---------------------------------------------------------------- the repository copy

copy_repo() {   # copy_repo DEST: a clone of $SHA, plus the working tree with --worktree
    local dest=$1 f
    git -c safe.directory='*' clone -q --no-hardlinks "$REPO" "$dest" &&
    git -c safe.directory='*' -C "$dest" checkout -q --detach "$SHA" || return 1
    if ((WORKTREE)); then
        git -c safe.directory='*' -C "$REPO" ls-files -z --deleted | while IFS= read -r -d '' f; do
            rm -f -- "$dest/$f"
        done
        git -c safe.directory='*' -C "$REPO" ls-files -z --cached --others --exclude-standard |
            (cd "$REPO" && while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done) |
            tar -C "$REPO" --null -T - -cf - | tar -C "$dest" -xf - || return 1
    fi
}

extract_commands() {   # extract_commands README PREFIX: writes PREFIX1.sh PREFIX2.sh ..., prints the count
    awk -v prefix="$2" '
        !inblk && /^## / { insec = ($0 ~ /^## Set up[[:space:]]*$/); next }
        insec && !inblk && /^```sh[[:space:]]*$/ { inblk = 1; n++; printf "" > (prefix n ".sh"); next }
        insec && inblk && /^```[[:space:]]*$/ { inblk = 0; close(prefix n ".sh"); next }
        insec && inblk { print > (prefix n ".sh") }
        END { print n + 0 }
    ' "$1"
}

# ---------------------------------------------------------------- running inside a chroot

ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games
# Run $4 with bash -c from folder $3 in chroot $1 as user $2, with a login-like environment
# only (env -i: none of this host's PIP_* variables or anything else leaks in).
in_chroot() {
    local root=$1 user=$2 dir=$3 cmd=$4
    local wrapper='cd -- "$1" || exit 1; echo "# as $(id -un) ($(id)) in $PWD, environment:"; env | sort; echo "# ---"; exec /bin/bash -c "$2"'
    if [[ $user == root ]]; then
        env -i PATH=$ROOT_PATH HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
            timeout -k 30 "$TIMEOUT" chroot "$root" /bin/bash -c "$wrapper" bash "$dir" "$cmd"
    else
        env -i PATH=$ROOT_PATH timeout -k 30 "$TIMEOUT" chroot "$root" /usr/sbin/runuser -u "$user" -- \
            /usr/bin/env -i PATH=$USER_PATH HOME=/home/$user USER=$user LOGNAME=$user SHELL=/bin/bash \
            /bin/bash -c "$wrapper" bash "$dir" "$cmd"
    fi
}

FAILED=0
record() {   # record LABEL STATUS SECONDS LOG
    local line
    line=$(printf '%-34s %-4s %7ss  %s' "$1" "$2" "$3" "$4")
    echo "$line" | tee -a "$SUMMARY"
    [[ $2 == PASS ]] || FAILED=1
}

run_scenario() {
    local id=$1 name user sudo
    case $id in
        a) name="a: root, no sudo"; user=root; sudo=0 ;;
        b) name="b: root, sudo installed"; user=root; sudo=1 ;;
        c) name="c: user $TESTUSER with sudo"; user=$TESTUSER; sudo=1 ;;
        *) die "unknown scenario $id" ;;
    esac
    local root=$WORK/roots/$id home dir log start status rc
    echo
    echo "=== scenario $name"
    remove_tree "$root"
    mkdir -p "$root"
    CHROOTS+=("$root")
    tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$PRISTINE" || die "cannot unpack $PRISTINE"
    mount_chroot "$root" || die "could not mount the kernel file systems into $root"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
    # debootstrap writes /etc/hostname but no /etc/hosts; the Debian installer writes both (and
    # without them sudo warns "unable to resolve host" on every call).
    [[ -e $root/etc/hosts ]] || printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' \
        "$(cat "$root/etc/hostname" 2>/dev/null || hostname)" >"$root/etc/hosts"
    [[ ! -e $root/etc/pip.conf && ! -e $root/root/.config/pip && ! -e $root/opt/wheels ]] ||
        die "$root has pip configuration or wheels: it is not a fresh system"
    local crt cas=()
    if ((HOST_CA)); then
        for crt in /usr/local/share/ca-certificates/*.crt; do
            [[ -f $crt ]] || continue
            install -D -m 0644 "$crt" "$root/usr/local/share/ca-certificates/${crt##*/}" || die "cannot copy $crt"
            cas+=("${crt##*/}")
        done
    fi

    # Set-up that is not part of the README: sudo, the normal user.
    log=$RUN/$id-setup.log
    start=$EPOCHREALTIME
    (
        echo "Host CA certificates copied to /usr/local/share/ca-certificates: ${cas[*]:-none}"
        if ((sudo)); then
            env -i PATH=$ROOT_PATH HOME=/root DEBIAN_FRONTEND=noninteractive chroot "$root" \
                /bin/sh -c 'apt-get update && apt-get install -y sudo' </dev/null || exit 1
        else
            ! chroot "$root" /bin/sh -c 'command -v sudo' || { echo "sudo is installed in the pristine system"; exit 1; }
            echo "sudo is not installed, as wanted."
        fi
        if [[ $user != root ]]; then
            chroot "$root" /usr/sbin/useradd -m -s /bin/bash -G sudo "$user" &&
            echo "$user ALL=(ALL:ALL) NOPASSWD: ALL" >"$root/etc/sudoers.d/$user-nopasswd" &&
            chmod 0440 "$root/etc/sudoers.d/$user-nopasswd" &&
            chroot "$root" /usr/sbin/visudo -c &&
            chroot "$root" /usr/sbin/runuser -u "$user" -- /usr/bin/sudo -n true &&
            echo "$user: $(chroot "$root" id "$user"); passwordless sudo works." || exit 1
        fi
    ) >"$log" 2>&1
    rc=$?
    if ((rc != 0)); then
        record "$id setup" FAIL "$(elapsed "$start")" "$log"
        tail -n 15 "$log" | sed 's/^/    | /'
        release_chroot "$root"
        return
    fi

    # The repository copy, in the user's home (a copy of this run's snapshot, see main).
    if [[ $user == root ]]; then home=/root; else home=/home/$user; fi
    dir=$home/backupfs
    cp -a "$RUN/repo" "$root$dir" || die "cannot copy the repository into $root$dir"
    [[ $user == root ]] || chroot "$root" chown -R "$user:$user" "$dir"

    local count
    count=$(extract_commands "$root$dir/README.md" "$RUN/$id-cmd")
    if [[ $count != 2 ]]; then
        echo "README.md's \"## Set up\" section has $count \`\`\`sh blocks, not 2" | tee "$RUN/$id-extract.log"
        record "$id extract README commands" FAIL 0 "$RUN/$id-extract.log"
        release_chroot "$root"
        return
    fi

    local step n
    for n in 1 2; do
        if ((n == 1)); then step=demo; else step=test; fi
        log=$RUN/$id-$step.log
        {
            echo "# scenario $name, README command $n ($step), run with bash -c from $dir:"
            cat "$RUN/$id-cmd$n.sh"
        } >"$log"
        start=$EPOCHREALTIME
        # In the background and waited for, so that a TERM or INT is acted on at once.
        in_chroot "$root" "$user" "$dir" "$(cat "$RUN/$id-cmd$n.sh")" >>"$log" 2>&1 </dev/null &
        CHILD=$!
        wait "$CHILD"
        rc=$?
        CHILD=
        local took
        took=$(elapsed "$start")
        echo "# exit status $rc after ${took}s" >>"$log"
        if ((n == 1)); then
            { echo "# FUSE mounts in the chroot after the demo (target source type options):"
              findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | awk -v r="$root/" 'index($1, r) == 1 && $3 ~ /^fuse/'
            } >>"$log" 2>&1
        fi
        if ((rc == 0)); then status=PASS; else status=FAIL; fi
        ((rc == 124 || rc == 137)) && echo "# timed out after ${TIMEOUT}s" >>"$log"
        record "$id $step" "$status" "$took" "$log"
        [[ $status == PASS ]] || tail -n 15 "$log" | sed 's/^/    | /'
    done
    release_chroot "$root" || FAILED=1
}

# ---------------------------------------------------------------- main

mkdir -p "$WORK/roots"
# One snapshot of the repository for all scenarios (the working tree may change meanwhile).
if ! copy_repo "$RUN/repo" >"$RUN/repo.log" 2>&1; then
    cat "$RUN/repo.log" >&2; die "could not copy $REPO"
fi
{
    echo "commit $SHA$( ((WORKTREE)) && echo ' + the working tree') of $REPO; git status of the copy:"
    git -c safe.directory='*' -C "$RUN/repo" status --short
} >>"$RUN/repo.log" 2>&1
git -c safe.directory='*' -C "$RUN/repo" diff HEAD >"$RUN/repo-worktree.diff" 2>/dev/null

if ((REBUILD)) || [[ ! -s $PRISTINE ]]; then
    build_pristine
else
    echo "Reusing the pristine system $PRISTINE"
fi
echo "Testing $REPO at ${SHA:0:12}$( ((WORKTREE)) && echo ' with its working tree (uncommitted changes included)'); logs in $RUN"
{ echo "repo $REPO commit $SHA worktree=$WORKTREE suite=$SUITE variant=$VARIANT"; } >"$SUMMARY"

for s in "${list[@]}"; do run_scenario "$s"; done

cleanup
echo
echo "Summary ($SUMMARY):"
tail -n +2 "$SUMMARY"
left=$(for c in "${CHROOTS[@]}"; do mounts_under "$c"; done)
if [[ -n $left ]]; then
    echo "WARNING: still mounted:"; echo "$left"; FAILED=1
else
    echo "Nothing left mounted under $WORK."
fi
((FAILED)) && { echo "RESULT: FAIL"; exit 1; }
echo "RESULT: PASS"
exit 0
