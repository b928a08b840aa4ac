#!/bin/sh
# Installs the Debian 12 packages kigen builds, tests and runs with; with "checks", the tools of
# make asan, valgrind, analyze, format-check and fuzz instead (clang's sanitizer and libFuzzer
# runtime, valgrind, cppcheck, clang-format).
# Idempotent and quiet: when every package is present it prints nothing and touches nothing.
set -eu

PKGS="build-essential pkg-config
libsqlite3-dev sqlite3
libcairo2-dev libpango1.0-dev libqrencode-dev libxlsxwriter-dev libqpdf-dev liblcms2-dev libzip-dev
libyaml-dev libcsv-dev libunistring-dev libssl-dev openssl
libpcsclite-dev pcscd vsmartcard-vpcd pcsc-tools opensc
libpq-dev postgresql postgresql-client
fonts-ipaexfont fonts-ipamj-mincho fonts-wqy-zenhei fontconfig
libcmocka-dev poppler-utils zbar-tools qpdf python3 python3-openpyxl python3-pikepdf ghostscript zint
python3-reportlab python3-qrcode python3-yaml
iproute2 util-linux tmux time procps jq
libmicrohttpd-dev chromium chromium-driver python3-selenium curl"
[ "${1:-}" = checks ] && PKGS="gcc libasan8 libubsan1 clang libclang-rt-14-dev valgrind cppcheck clang-format openssl"

missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$s" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
