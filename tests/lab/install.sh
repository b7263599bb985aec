#!/usr/bin/env bash
# Installs what the bounce lab needs: Postfix and knot as normal packages,
# the other MTAs unpacked (apt-get download + dpkg -x) into PKGDIR/<mta>
# since Debian allows one mail-transport-agent at a time; their libraries
# and system users are installed normally.
set -euo pipefail
pkg="$1"
export DEBIAN_FRONTEND=noninteractive
# The libraries the unpacked MTAs link, by release (Debian 13 renamed several
# for 64-bit time_t); a release not listed here is refused.
. /etc/os-release
case "${VERSION_CODENAME:-}" in
  bookworm)
    libs=(libgnutls-dane0 libdb5.3 libevent-2.1-7 libssl3 libldap-2.5-0 libgdbm6)
    unicode=libcourier-unicode4 ;;
  trixie)
    libs=(libgnutls-dane0t64 libdb5.3t64 libevent-2.1-7t64 libssl3t64 libldap2 libgdbm6t64
      libltdl7 libperl5.40 libnet-cidr-perl)
    unicode=libcourier-unicode8 ;;
  *)
    echo "install.sh: Debian release '${VERSION_CODENAME:-unknown}' has no library list here (bookworm, trixie)" >&2
    exit 2 ;;
esac
# ca-certificates: OpenSMTPD 7.6 will not start without the CA bundle; openssl
# makes chasquid's certificate.
need=(postfix knot knot-dnsutils python3 adduser procps m4 util-linux ca-certificates openssl libidn12 libnsl2
  libpcre2-8-0 libpam0g liblockfile1 libsasl2-2 libwrap0 libstdc++6 "${libs[@]}")
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# The package lists are needed to install and to download: refresh them once
# when anything is missing.
unpacked=(exim opensmtpd sendmail dma courier nullmailer chasquid)
refresh=${#missing[@]}
for name in "${unpacked[@]}"; do [ -e "$pkg/$name/.done" ] || refresh=1; done
if [ "$refresh" -gt 0 ]; then
  apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
unpack() { # unpack NAME PACKAGE...
  local name="$1"; shift
  [ -e "$pkg/$name/.done" ] && return
  mkdir -p "$pkg/$name/debs"
  (cd "$pkg/$name/debs" && chmod 777 . && apt-get download -q "$@")
  for d in "$pkg/$name"/debs/*.deb; do dpkg -x "$d" "$pkg/$name"; done
  touch "$pkg/$name/.done"
}
unpack exim exim4-daemon-light exim4-base
unpack opensmtpd opensmtpd
unpack sendmail sendmail-bin sendmail-base sendmail-cf
unpack dma dma
unpack courier courier-mta courier-base courier-authlib "$unicode"
unpack nullmailer nullmailer
unpack chasquid chasquid
# Haraka (Debian 12's lab only; Debian has no package of it) from its npm
# package, run with the host's Node.js (20 or later).
if [ "$VERSION_CODENAME" = bookworm ] && ! [ -e "$pkg/haraka/.done" ]; then
  command -v npm >/dev/null || { echo "install.sh: Haraka needs Node.js 20 or later and npm" >&2; exit 2; }
  mkdir -p "$pkg/haraka"
  (cd "$pkg/haraka" && npm install --omit=optional --no-audit --no-fund --loglevel=error Haraka@3.3.4)
  touch "$pkg/haraka/.done"
fi
# System users the binaries have compiled in.
user() { # user NAME GROUP HOME
  getent group "$2" >/dev/null || addgroup --system --quiet --allow-bad-names "$2"
  id "$1" >/dev/null 2>&1 || adduser --system --quiet --allow-bad-names --no-create-home --home "$3" --ingroup "$2" --disabled-password "$1"
  [ "$(getent passwd "$1" | cut -d: -f6)" = "$3" ] || usermod -d "$3" "$1"
}
user Debian-exim Debian-exim /nonexistent
# OpenSMTPD chroots its unprivileged processes into the user's home, as the
# package's postinst sets it up.
mkdir -p /var/lib/opensmtpd/empty
user opensmtpd opensmtpd /var/lib/opensmtpd/empty
user opensmtpq opensmtpq /var/lib/opensmtpd/empty
user smmta smmta /nonexistent
getent group smmsp >/dev/null || addgroup --system --quiet smmsp
user courier courier /var/lib/courier
