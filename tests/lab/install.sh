#!/usr/bin/env bash
# Installs what the bounce lab needs: Postfix and knot as normal packages,
# the other MTAs unpacked (apt-get download + dpkg -x) into PKGDIR/<mta>
# since Debian allows one mail-transport-agent at a time; their libraries
# and system users are installed normally.
set -euo pipefail
pkg="$1"
export DEBIAN_FRONTEND=noninteractive
need=(postfix knot knot-dnsutils python3 libidn12 libgnutls-dane0 libnsl2 libpcre2-8-0 libdb5.3
  libevent-2.1-7 libpam0g libssl3 libldap-2.5-0 liblockfile1 libsasl2-2 libwrap0 m4
  libgdbm6 libstdc++6 util-linux)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# The package lists are needed to install and to download: refresh them once
# when anything is missing.
if [ ${#missing[@]} -gt 0 ] || ! [ -e "$pkg/exim/.done" ] || ! [ -e "$pkg/opensmtpd/.done" ] \
  || ! [ -e "$pkg/sendmail/.done" ] || ! [ -e "$pkg/dma/.done" ] || ! [ -e "$pkg/courier/.done" ]; then
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
unpack courier courier-mta courier-base courier-authlib libcourier-unicode4
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
