#!/usr/bin/env bash
# The Debian package, installed for real on this machine (root, dpkg): build
# it (build.sh), `dpkg -i`, check the user, files and permissions, run
# `winback serve` as the winback user on the installed configuration until a
# message lands in the Maildir and /healthz answers, `winback status` through
# the admin socket, then `dpkg -r` keeps configuration and state and
# `dpkg -P` leaves nothing behind. Refuses to touch a host where winback is
# installed already.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "package test: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' winback 2>/dev/null | grep -q installed; then
    fail "winback is installed on this host already; not touching it"
fi
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked

started=$(date +%s)
tests/package/build.sh
echo "package built in $(($(date +%s) - started))s"
deb=$(ls -t "${CARGO_TARGET_DIR:-target}"/debian/winback_*.deb | head -n 1)

pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    dpkg -P winback >/dev/null 2>&1 || true
}
trap cleanup EXIT

dpkg -i "$deb"

# --- user, files, permissions
expect_mode() { # PATH "MODE OWNER GROUP"
    local got
    got=$(stat -c '%a %U %G' "$1") || fail "$1 missing"
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
getent passwd winback | grep -q ':/var/lib/winback:/usr/sbin/nologin$' || fail "no winback system user: $(getent passwd winback)"
[ "$(id -u winback)" -lt 1000 ] || fail "winback is not a system user"
expect_mode /usr/bin/winback "755 root root"
expect_mode /etc/winback "750 root winback"
expect_mode /etc/winback/winback.toml "640 root winback"
expect_mode /var/lib/winback "700 winback winback"
expect_mode /lib/systemd/system/winback.service "644 root root"
expect_mode /lib/systemd/system/winback-inbound.socket "644 root root"
for f in /usr/share/winback/templates/miss-you.html /usr/share/winback/role-accounts.txt \
    /usr/share/winback/providers.toml /usr/share/man/man1/winback.1.gz /usr/share/man/man1/winback-serve.1.gz \
    /usr/share/bash-completion/completions/winback /usr/share/zsh/vendor-completions/_winback \
    /usr/share/fish/vendor_completions.d/winback.fish; do
    [ -s "$f" ] || fail "$f missing"
done
dpkg-query -W -f='${Conffiles}\n' winback | grep -q '^ /etc/winback/winback.toml ' || fail "winback.toml is not a conffile"
systemd-analyze verify /lib/systemd/system/winback.service /lib/systemd/system/winback-inbound.socket
exposure=$(systemd-analyze security --offline=yes /lib/systemd/system/winback.service | sed -n 's/.*exposure level for winback.service: \([0-9.]*\).*/\1/p')
echo "exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' || fail "exposure $exposure > 2.0"

# --- run it as the winback user on the installed configuration
cfg=/etc/winback/winback.toml
# A CI host has no DNS: the import's MX check would reject every address.
sed -i 's/^check_dns = true$/check_dns = false/' "$cfg"
grep -q '^check_dns = false$' "$cfg" || fail "cannot turn off the import's DNS check"
as_winback() { (cd /var/lib/winback && runuser -u winback -- /usr/bin/winback --config "$cfg" "$@"); }
printf 'email,last_engaged_at\nlapsed@example.com,2020-01-01\n' >/var/lib/winback/import.csv
chown winback: /var/lib/winback/import.csv
as_winback contacts import import.csv
# An operator's copy of one template replaces the package's file only.
mkdir -p /etc/winback/templates
{ echo "LOCAL COPY"; cat /usr/share/winback/templates/miss-you.txt; } >/etc/winback/templates/miss-you.txt
# setpriv execs (runuser would stay in between and report the signal).
(cd /var/lib/winback && exec setpriv --reuid=winback --regid=winback --init-groups -- /usr/bin/winback --config "$cfg" serve) &
pid=$!
for _ in $(seq 1 300); do
    if curl -fsS http://127.0.0.1:8025/healthz >/dev/null 2>&1 && [ -n "$(ls -A /var/lib/winback/outbox/new 2>/dev/null)" ]; then
        break
    fi
    kill -0 "$pid" 2>/dev/null || fail "winback serve exited"
    sleep 0.2
done
curl -fsS http://127.0.0.1:8025/healthz || fail "/healthz does not answer"
echo
msg=$(grep -l 'To: lapsed@example.com' /var/lib/winback/outbox/new/*) || fail "no message in the Maildir"
grep -q 'LOCAL COPY' $msg || fail "the local template in /etc/winback/templates was not used"
status=$(as_winback status --json)
echo "$status" | grep -q '"contacts_total": *1' || fail "status through the socket: $status"
echo "$status" | grep -q '"sent": *1' || fail "status shows no sent message: $status"
kill -TERM "$pid"
wait "$pid" || fail "serve did not stop cleanly"
pid=""

# --- remove keeps configuration and state; purge leaves nothing
files=$(dpkg -L winback)
dpkg -r winback
[ ! -e /usr/bin/winback ] || fail "dpkg -r left the binary"
[ -f /etc/winback/winback.toml ] || fail "dpkg -r removed the configuration"
[ -d /var/lib/winback/outbox ] || fail "dpkg -r removed the state"
dpkg -P winback
for f in $files; do
    case "$f" in /usr | /usr/* | /etc | /etc/* | /lib | /lib/*) ;; *) continue ;; esac
    [ -d "$f" ] && continue
    [ ! -e "$f" ] || fail "dpkg -P left $f"
done
for d in /etc/winback /var/lib/winback /usr/share/winback /usr/share/doc/winback; do
    [ ! -e "$d" ] || fail "dpkg -P left $d"
done
! getent passwd winback >/dev/null || fail "dpkg -P left the winback user"
! getent group winback >/dev/null || fail "dpkg -P left the winback group"
trap - EXIT
echo "package test: ok"
