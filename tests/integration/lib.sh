# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for the integration tests: start a real cisresd on a free loopback
# port with a throw-away state directory (SoftHSM token, SQLite store, CA),
# call the CSC API with curl, enroll signers with cisres-admin, assert.
#
# Source it from a test script:   . "$(dirname "$0")/lib.sh"
# Environment: CISRES_BUILD (build directory with cisresd and cisres-admin),
# CISRES_KEEP=1 keeps the state directory, CISRES_VERBOSE=1 echoes calls.

set -euo pipefail

CISRES_SRC=${CISRES_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CISRES_BUILD=${CISRES_BUILD:-$CISRES_SRC/build}
export CISRES_SRC CISRES_BUILD

TEST_NAME=$(basename "${0%.sh}")
# The system interpreter starts faster than a version-manager shim.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
TEST_STEPS=0

# ---- output and assertions ----

note() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }

fail() {
	printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
	if [ -n "${CSC_BODY:-}" ]; then
		printf '[%s]   last response (HTTP %s): %.600s\n' "$TEST_NAME" \
			"${CSC_STATUS:-?}" "$CSC_BODY" >&2
	fi
	exit 1
}

step() {
	TEST_STEPS=$((TEST_STEPS + 1))
	note "$*"
}

assert_eq() { # ACTUAL EXPECTED MESSAGE
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

assert_ne() { # ACTUAL UNEXPECTED MESSAGE
	[ "$1" != "$2" ] || fail "$3: did not expect '$2'"
}

assert_contains() { # HAYSTACK NEEDLE MESSAGE
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: '$2' not found in '$(printf '%.300s' "$1")'" ;;
	esac
}

assert_not_contains() { # HAYSTACK NEEDLE MESSAGE
	case "$1" in
	*"$2"*) fail "$3: '$2' unexpectedly found" ;;
	*) ;;
	esac
}

assert_status() { # EXPECTED [MESSAGE]
	[ "${CSC_STATUS:-}" = "$1" ] || fail "${2:-HTTP status}: expected $1, got ${CSC_STATUS:-none}"
}

# assert_error STATUS ERROR [DESCRIPTION]: the last CSC answer is this error.
assert_error() {
	local status=$1 error=$2 desc=${3:-}
	[ "${CSC_STATUS:-}" = "$status" ] ||
		fail "expected HTTP $status $error${desc:+ ($desc)}, got HTTP ${CSC_STATUS:-none}"
	assert_eq "$(jget error)" "$error" "error code"
	if [ -n "$desc" ]; then
		assert_eq "$(jget error_description)" "$desc" "error_description"
	fi
}

# run a command that must succeed / fail
must() { "$@" || fail "command failed: $*"; }
must_fail() { if "$@"; then fail "command unexpectedly succeeded: $*"; fi; }

# ---- JSON ----

# json_get JSON PATH: PATH is dotted, numbers index arrays ("cert.certificates.0").
# Prints strings raw, other values as JSON; missing -> empty + status 1.
json_get() {
	"$PY" -c '
import json, sys
v = json.loads(sys.argv[1])
for p in sys.argv[2].split(".") if sys.argv[2] else []:
    try:
        v = v[int(p)] if isinstance(v, list) else v[p]
    except (KeyError, IndexError, ValueError, TypeError):
        sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
' "$1" "$2"
}

# jget PATH: from the last CSC answer.
jget() {
	local b=${CSC_BODY:-}
	[ -n "$b" ] || b='{}'
	json_get "$b" "$1" || true
}

# json_str S: S as a JSON string literal.
json_str() { "$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# ---- the server ----

cisres_free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

cisres_cleanup() {
	local rc=$?
	if [ -n "${CISRES_SERVER_PID:-}" ] && kill -0 "$CISRES_SERVER_PID" 2>/dev/null; then
		kill -TERM "$CISRES_SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$CISRES_SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$CISRES_SERVER_PID" 2>/dev/null || true
		wait "$CISRES_SERVER_PID" 2>/dev/null || true
	fi
	if [ "$rc" -ne 0 ] && [ -n "${CISRES_TMP:-}" ] && [ -f "$CISRES_TMP/server.log" ]; then
		printf '[%s] server log (last 40 lines):\n' "$TEST_NAME" >&2
		tail -n 40 "$CISRES_TMP/server.log" >&2 || true
	fi
	if [ -n "${CISRES_TMP:-}" ] && [ "${CISRES_KEEP:-0}" != 1 ]; then
		rm -rf "$CISRES_TMP"
	elif [ -n "${CISRES_TMP:-}" ]; then
		printf '[%s] state kept in %s\n' "$TEST_NAME" "$CISRES_TMP" >&2
	fi
	if [ "$rc" -eq 0 ]; then
		printf '[%s] PASS (%d steps)\n' "$TEST_NAME" "$TEST_STEPS"
	fi
	return "$rc"
}

# cisres_start_server [extra cisresd arguments...]
cisres_start_server() {
	local port url="" ca="" line
	for tool in curl openssl python3; do
		command -v "$tool" >/dev/null || fail "$tool is required"
	done
	[ -x "$CISRES_BUILD/cisresd" ] || fail "no cisresd in $CISRES_BUILD (set CISRES_BUILD)"
	CISRES_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cisres-it.XXXXXX")
	CISRES_STATE=$CISRES_TMP/state
	export CISRES_TMP CISRES_STATE
	trap cisres_cleanup EXIT
	port=$(cisres_free_port)
	: >"$CISRES_TMP/server.out"
	"$CISRES_BUILD/cisresd" --state-dir "$CISRES_STATE" --listen "127.0.0.1:$port" \
		--foreground "$@" >"$CISRES_TMP/server.out" 2>"$CISRES_TMP/server.log" &
	CISRES_SERVER_PID=$!
	export CISRES_SERVER_PID
	for _ in $(seq 1 600); do
		if ! kill -0 "$CISRES_SERVER_PID" 2>/dev/null; then
			CISRES_SERVER_PID=
			fail "cisresd exited during start-up"
		fi
		if [ "$(wc -l <"$CISRES_TMP/server.out")" -ge 2 ]; then
			break
		fi
		sleep 0.1
	done
	while IFS= read -r line; do
		case "$line" in
		"cisresd: serving "*) url=${line#cisresd: serving } ;;
		"cisresd: CA certificate: "*) ca=${line#cisresd: CA certificate: } ;;
		esac
	done <"$CISRES_TMP/server.out"
	[ -n "$url" ] && [ -n "$ca" ] || fail "cisresd did not print its URL and CA (timeout)"
	[ -f "$ca" ] || fail "CA file $ca missing"
	CISRES_URL=$url
	CISRES_BASE=${url%/csc/v2/}
	CISRES_CA=$ca
	export CISRES_URL CISRES_BASE CISRES_CA
	for _ in $(seq 1 100); do
		if [ "$(curl -s --cacert "$CISRES_CA" "$CISRES_BASE/health" 2>/dev/null)" = ok ]; then
			note "server up at $CISRES_URL (pid $CISRES_SERVER_PID)"
			return 0
		fi
		sleep 0.1
	done
	fail "cisresd does not answer /health"
}

# ---- calling the API ----

# csc METHOD JSON [TOKEN]: sets CSC_STATUS and CSC_BODY (quiet).
csc() {
	local method=$1 json=$2 token=${3:-} out
	local -a auth=()
	[ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
	out=$(curl -sS --cacert "$CISRES_CA" -X POST -H 'Content-Type: application/json' \
		"${auth[@]}" --data-binary "$json" -w '\n%{http_code}' "$CISRES_URL$method") ||
		fail "curl failed for $method"
	CSC_STATUS=${out##*$'\n'}
	CSC_BODY=${out%$'\n'*}
	export CSC_STATUS CSC_BODY
	[ "${CISRES_VERBOSE:-0}" = 1 ] && note "$method -> $CSC_STATUS $CSC_BODY"
	return 0
}

# csc_call METHOD JSON [TOKEN]: like csc, and prints the body. The status is
# also kept in $CISRES_TMP/status for callers in a subshell (csc_last_status).
csc_call() {
	csc "$@"
	printf '%s' "$CSC_STATUS" >"$CISRES_TMP/status"
	printf '%s\n' "$CSC_BODY"
}
csc_last_status() { cat "$CISRES_TMP/status"; }

# csc_basic USER PASSWORD JSON: auth/login with HTTP Basic.
csc_basic() {
	local out
	out=$(curl -sS --cacert "$CISRES_CA" -X POST -H 'Content-Type: application/json' \
		-u "$1:$2" --data-binary "$3" -w '\n%{http_code}' "${CISRES_URL}auth/login") ||
		fail "curl failed for auth/login"
	CSC_STATUS=${out##*$'\n'}
	CSC_BODY=${out%$'\n'*}
	export CSC_STATUS CSC_BODY
}

# ---- enrollment ----

admin() {
	"$CISRES_BUILD/cisres-admin" --state-dir "$CISRES_STATE" "$@"
}

# enroll_user NAME PASSWORD [extra admin args]: prints the TOTP secret (base32).
enroll_user() {
	local name=$1 pw=$2 out secret
	shift 2
	out=$(CISRES_TEST_PW=$pw admin user add "$name" --display "Test ${name^}" \
		--email "$name@example.org" --password-env CISRES_TEST_PW "$@") ||
		fail "cisres-admin user add $name failed"
	secret=$(printf '%s\n' "$out" | sed -n 's/^totp-secret: //p' | head -n1)
	[ -n "$secret" ] || fail "no totp-secret from cisres-admin user add"
	printf '%s\n' "$secret"
}

# enroll_cred USER PIN [admin args: --key ... --scal ... --auth ...]: prints the ID.
enroll_cred() {
	local user=$1 pin=$2 out id
	shift 2
	out=$(CISRES_TEST_PIN=$pin admin credential add "$user" --pin-env CISRES_TEST_PIN "$@") ||
		fail "cisres-admin credential add $user $* failed"
	id=$(printf '%s\n' "$out" | tail -n1 | sed -n 's/^credential: //p')
	[ -n "$id" ] || fail "no credential ID from cisres-admin credential add"
	printf '%s\n' "$id"
}

# totp SECRET [OFFSET_STEPS]: the current TOTP code (or one OFFSET steps away).
totp() {
	local off=${2:-0}
	oathtool --totp -b "$1" -N "@$(($(date +%s) + 30 * off))"
}

# login USER PASSWORD: prints the access token.
login() {
	csc_basic "$1" "$2" '{}'
	assert_status 200 "auth/login $1"
	jget access_token
}

# ---- crypto helpers ----

# shellcheck disable=SC2120
b64() { base64 -w0 "$@"; }
unb64() { base64 -d; }

# digest_b64 ALG FILE: raw digest of FILE (sha256|sha384|sha512), Base64.
digest_b64() { openssl dgst "-$1" -binary "$2" | b64; }

# cert_pem_from_b64 B64 OUT: a Base64 DER certificate to PEM.
cert_pem_from_b64() {
	printf '%s' "$1" | unb64 >"$2.der"
	openssl x509 -inform DER -in "$2.der" -out "$2" || fail "bad certificate from the server"
	rm -f "$2.der"
}

# Wait for the next TOTP step when fewer than N seconds are left in this one,
# so that a code read now is still valid when the server checks it.
totp_settle() {
	local left=$((30 - $(date +%s) % 30))
	if [ "$left" -lt "${1:-3}" ]; then
		sleep "$left"
	fi
}
