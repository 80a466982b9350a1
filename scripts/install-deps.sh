#!/usr/bin/env bash
# Installs every Debian 12 package CISRES needs to build, run and test.
# Idempotent; run as root (or through sudo). Adds bookworm-backports for
# pkcs11-provider when the APT sources lack it.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	exec sudo -E "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive

need_backports=1
if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	need_backports=0
fi
if [ "$need_backports" -eq 1 ]; then
	cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

# Build and runtime libraries.
BUILD_PKGS="build-essential cmake pkg-config clang clang-format
	libssl-dev libcurl4-openssl-dev libcjson-dev libmicrohttpd-dev
	libsqlite3-dev libpq-dev libp11-kit-dev libcmocka-dev libqrencode-dev"
# The HSM and the PKCS#11 tooling; adduser creates the service users below
# (a minimal Debian image lacks it).
HSM_PKGS="softhsm2 opensc p11-kit p11-kit-modules gnutls-bin libnss3-tools adduser"
# Test peers: independent verifiers and real client applications.
TEST_PKGS="openssl curl oathtool sqlite3 valgrind python3 python3-cryptography procps psmisc
	util-linux xxd zip unzip poppler-utils default-jdk-headless osslsigncode
	libengine-pkcs11-openssl chromium libreoffice-writer-nogui python3-uno"

stamp=/var/lib/apt/periodic/cisres-update-stamp
if [ "$need_backports" -eq 1 ] || [ ! -f "$stamp" ] ||
	[ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $BUILD_PKGS $HSM_PKGS $TEST_PKGS
apt-get install -y -qq --no-install-recommends -t bookworm-backports pkcs11-provider

# The service users, as a Debian package would create them: cisresd started
# as root with --user cisres runs its HTTP process as "cisres" and its SAM
# process (HSM session, token PIN) as "cisres-sam", a member of the group
# "cisres" (both write the store). See docs/server.md, "Users".
add_system_user() { # NAME
	if ! getent passwd "$1" >/dev/null; then
		adduser --system --group --no-create-home --home /nonexistent --quiet "$1"
	fi
}
add_system_user cisres
add_system_user cisres-sam
if ! id -nG cisres-sam | tr ' ' '\n' | grep -qx cisres; then
	adduser --quiet cisres-sam cisres
fi
