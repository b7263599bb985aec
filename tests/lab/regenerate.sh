#!/usr/bin/env bash
# Regenerates the bounce lab corpus (tests/data/lab): real Postfix, Exim4,
# OpenSMTPD, Sendmail, Courier and dma from Debian's packages fail messages against a
# scripted destination server and their DSNs are kept. See README.md.
#
# Usage (as root, Debian 12): tests/lab/regenerate.sh [--mta NAME]... [--scenario NAME]... [--work DIR]
# Traffic stays on loopback (127.0.0.0/8).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --mta) args+=(--mta "$2"); shift 2 ;;
    --scenario) args+=(--scenario "$2"); shift 2 ;;
    *) echo "unknown argument: $1 (use --mta NAME, --scenario NAME, --work DIR)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root: the MTAs bind port 25 on loopback addresses and switch users" >&2; exit 2; }
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
' lab "$work" "$here/lab.py" --work "$work" --pkg "$pkg" --out "$repo/tests/data/lab" "${args[@]}"
