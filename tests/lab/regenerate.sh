#!/usr/bin/env bash
# Regenerates the bounce lab corpus (tests/data/lab): real Postfix, Exim4,
# OpenSMTPD, Sendmail, Courier, dma and nullmailer from Debian's packages (and Haraka
# from its npm package, on Debian 12) fail messages against a scripted
# destination server and their DSNs are kept. See README.md.
#
# Usage (as root, Debian 12 or 13):
#   tests/lab/regenerate.sh [--release NAME] [--root DIR] [--mta NAME]... [--scenario NAME]... [--work DIR]
#   tests/lab/regenerate.sh --scenarios FILE --out DIR [--mta NAME]... [--work DIR]
# (a generated scenario table, its reports kept in DIR: see sweep.py)
# The MTAs are those of the running Debian release, and the corpus goes to
# tests/data/lab (Debian 12, bookworm) or tests/data/lab-NAME (another
# release). --release NAME runs the lab on that release instead: in a
# minimal root made by debootstrap in DIR (default /var/tmp/winback-lab-NAME,
# kept for the next run), with the repository mounted at /lab.
# Traffic stays on loopback (127.0.0.0/8).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work=""
out=""
release=""
root=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --release) release="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    --mta) args+=(--mta "$2"); shift 2 ;;
    --scenario) args+=(--scenario "$2"); shift 2 ;;
    --scenarios) args+=(--scenarios "$(realpath "$2")"); shift 2 ;;
    --out) out="$(realpath -m "$2")"; shift 2 ;;
    *) echo "unknown argument: $1 (use --release NAME, --root DIR, --mta NAME, --scenario NAME, --scenarios FILE, --out DIR, --work DIR)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root: the MTAs bind port 25 on loopback addresses and switch users" >&2; exit 2; }
host="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
if [ -n "$release" ] && [ "$release" != "$host" ]; then
  [ -z "$out" ] && ! [[ " ${args[*]} " == *" --scenarios "* ]] || {
    echo "regenerate.sh: --out and --scenarios name files of this system; run them on the release itself" >&2; exit 2; }
  root="${root:-/var/tmp/winback-lab-$release}"
  if ! [ -e "$root/.lab-root" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -q --no-install-recommends debootstrap
    debootstrap --variant=minbase --include=python3 "$release" "$root"
    # Packages installed in the root must not start services.
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    touch "$root/.lab-root"
  fi
  [ -z "$work" ] || echo "regenerate.sh: --work is ignored with --release; the work dir is under $root/tmp" >&2
  exec unshare -m --propagation private bash -c '
    set -e
    root="$1" repo="$2"
    shift 2
    # The root a mount of its own, so the lab can make its mounts private in it.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root/lab"
    mount --bind "$repo" "$root/lab"
    exec chroot "$root" /lab/tests/lab/regenerate.sh "$@"
  ' lab "$root" "$repo" "${args[@]}"
fi
case "$host" in
  '') echo "regenerate.sh: /etc/os-release names no Debian release" >&2; exit 2 ;;
  bookworm) out="${out:-$repo/tests/data/lab}" ;;
  *) out="${out:-$repo/tests/data/lab-$host}" ;;
esac
work="${work:-$(mktemp -d /tmp/winback-lab.XXXXXX)}"
mkdir -p "$work"
# The MTAs drop privileges (postfix, Debian-exim, opensmtpd, ...) and must reach their spools.
chmod 755 "$work"
pkg="$work/pkg"

"$here/install.sh" "$pkg"

# A private mount namespace: /etc/resolv.conf names the lab's DNS server and
# /run, /var/spool/smtpd are private, so the host's configuration is untouched.
printf 'nameserver 127.0.53.53\noptions timeout:1 attempts:2\n' > "$work/resolv.conf"
exec unshare -m --propagation private bash -c '
  set -e
  mount --bind "$1/resolv.conf" /etc/resolv.conf
  mount -t tmpfs lab-run /run
  shift
  exec python3 "$@"
' lab "$work" "$here/lab.py" --work "$work" --pkg "$pkg" --out "$out" "${args[@]}"
