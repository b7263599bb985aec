#!/usr/bin/env bash
# Builds the Debian package (target/debian/winback_<version>_<arch>.deb):
# the release binary, the man pages and shell completions it generates
# (`winback assets`), and the installed configuration: config/winback.toml
# with the package's paths (state in /var/lib/winback, templates and lists
# in /usr/share/winback). Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/../.."

# WINBACK_PACKAGE_PROFILE=dev packages a debug build (a quick look at the
# package); the default is the release build.
profile="${WINBACK_PACKAGE_PROFILE:-release}"
case "$profile" in dev) dir=debug ;; *) dir="$profile" ;; esac
target="${CARGO_TARGET_DIR:-target}"
cargo build --profile "$profile" --locked
out="$target/$dir/package"
rm -rf "$out"
mkdir -p "$out"
"$target/$dir/winback" assets "$out"
gzip -9n "$out"/man/*.1

{
    cat <<'HEAD'
# /etc/winback/winback.toml: the configuration of the packaged winback
# (an upgrade keeps your edits). Templates and lists are the package's, under
# /usr/share/winback. A template copied into /etc/winback/templates replaces
# the package's file of that name; for a list, copy it into /etc/winback
# and point its key here at the copy (an upgrade replaces
# /usr/share/winback, never /etc/winback). Mail goes into a Maildir under /var/lib/winback until
# [transport] names your relay.
#
HEAD
    sed -e 's#^state_dir = "\./var"#state_dir = "/var/lib/winback"#' \
        -e 's#"\./var/outbox"#"/var/lib/winback/outbox"#' \
        -e 's#"config/#"/usr/share/winback/#' \
        -e 's|^# signals_file = "/etc/winback/machine-signals.toml"|signals_file = "/usr/share/winback/machine-signals.toml"|' \
        -e 's|^# local_dir = "/etc/winback/templates"|local_dir = "/etc/winback/templates"|' \
        config/winback.toml
} >"$out/winback.toml"
# Every relative path of the shipped configuration got its package path.
if grep -nE '"(\./|config/)' "$out/winback.toml"; then
    echo "build.sh: relative paths left in the installed configuration (above)" >&2
    exit 1
fi

cargo deb --no-build --profile "$profile"
