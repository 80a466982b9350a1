#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Slot, token, session and object functions answer from memory: once the
# module has its cache, listing the token, its mechanisms and its objects —
# many times, from fresh processes — makes no request to the service. The
# server's own request counter (/metrics) is the witness. Then the same
# listing works with the service stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

command -v pkcs11-tool >/dev/null || fail "pkcs11-tool (opensc) is required"
p11_start
p11() { pkcs11-tool --module "$MOD" "$@"; }

requests() {
	curl -sS --cacert "$CISRES_CA" "$CISRES_BASE/metrics" |
		sed -n 's/^cisres_http_request_duration_seconds_count //p'
}

step "enroll alice with two credentials; cisres login; a first listing fills the cache"
ALICE_PW='alice-Pw-1234'
enroll_user alice "$ALICE_PW" >/dev/null
enroll_cred alice 246810 --key ec-p256 --scal 1 --auth pin --multisign 100 >/dev/null
enroll_cred alice 246810 --key rsa-2048 --scal 1 --auth pin --multisign 100 >/dev/null
p11_login alice "$ALICE_PW"
printf '[module]\nrefresh_interval = 600\n' >>"$CONF.tmp"
cat "$CONF" >>"$CONF.tmp" && mv "$CONF.tmp" "$CONF" && chmod 600 "$CONF"
out=$(p11 -O 2>&1) || fail "pkcs11-tool -O: $out"
assert_contains "$out" "Certificate Object" "objects listed"
ls "$XDG_CACHE_HOME"/cisres/*.json >/dev/null 2>&1 || fail "no cache file after the first listing"

step "20 rounds of slot, token, mechanism and object listing make no request"
r1=$(requests)
r2=$(requests)
self=$((r2 - r1))
for _ in $(seq 1 20); do
	p11 -L >/dev/null 2>&1 || fail "pkcs11-tool -L failed"
	p11 -T >/dev/null 2>&1 || fail "pkcs11-tool -T failed"
	p11 -M >/dev/null 2>&1 || fail "pkcs11-tool -M failed"
	out=$(p11 -O 2>&1) || fail "pkcs11-tool -O failed: $out"
done
assert_contains "$out" "Public Key Object; RSA" "RSA key listed from the cache"
assert_contains "$out" "Public Key Object; EC" "EC key listed from the cache"
r3=$(requests)
[ $((r3 - r2)) -eq "$self" ] ||
	fail "the listing made $((r3 - r2 - self)) request(s) to the service (expected none)"

step "with the service stopped the token still lists everything, at once"
kill -TERM "$CISRES_SERVER_PID" 2>/dev/null
wait "$CISRES_SERVER_PID" 2>/dev/null || true
curl -sS --max-time 2 --cacert "$CISRES_CA" "$CISRES_BASE/health" >/dev/null 2>&1 &&
	fail "the service still answers after stopping it"
start=$(date +%s%N)
out=$(p11 -O 2>&1) || fail "pkcs11-tool -O offline: $out"
ms=$((($(date +%s%N) - start) / 1000000))
assert_contains "$out" "Certificate Object" "certificates listed offline"
[ "$ms" -lt 2000 ] || fail "offline listing took $ms ms"

