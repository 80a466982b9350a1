#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module under valgrind memcheck, driven by OpenSC's pkcs11-tool
# against a real cisresd: slot list, objects before and after login, an EC
# P-256 (ECDSA-SHA256) and an RSA-2048 (SHA256-RSA-PKCS) signature and a
# C_Verify. Any memcheck error (invalid access, uninitialised value used,
# bad free, definite leak) fails the test; errors wholly inside third-party
# libraries are listed, with the reason, in valgrind.supp next to this
# script. The signatures are checked by OpenSSL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

for t in pkcs11-tool valgrind; do
	command -v "$t" >/dev/null || fail "$t is required"
done
SUPP=$CISRES_SRC/tests/integration/valgrind.supp
[ -f "$SUPP" ] || fail "no $SUPP"
p11_start

PIN=246810
step "enroll alice: EC P-256 and RSA-2048 (SCAL1, PIN)"
ALICE_PW='alice-Pw-1234'
enroll_user alice "$ALICE_PW" >/dev/null
EC=$(enroll_cred alice "$PIN" --key ec-p256 --scal 1 --auth pin --multisign 100)
RSA=$(enroll_cred alice "$PIN" --key rsa-2048 --scal 1 --auth pin --multisign 100)
p11_cert "$EC" alice "$ALICE_PW" "$W/EC"
p11_cert "$RSA" alice "$ALICE_PW" "$W/RSA"
EC_ID=$(cat "$W/EC.id")
RSA_ID=$(cat "$W/RSA.id")
p11_login alice "$ALICE_PW"

VG_RUNS=0
# vg NAME pkcs11-tool-args...: pkcs11-tool with the module under memcheck.
# Output in $W/NAME.out, valgrind's report in $W/NAME.vg.
vg() {
	local name=$1 rc=0
	shift
	VG_RUNS=$((VG_RUNS + 1))
	valgrind --tool=memcheck --error-exitcode=42 --leak-check=full \
		--errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=no \
		--num-callers=40 --child-silent-after-fork=yes --suppressions="$SUPP" \
		--log-file="$W/$name.vg" \
		pkcs11-tool --module "$MOD" "$@" >"$W/$name.out" 2>&1 || rc=$?
	if [ "$rc" -eq 42 ]; then
		printf '[%s] valgrind report of pkcs11-tool %s:\n' "$TEST_NAME" "$*" >&2
		grep -v '^==[0-9]*== *$' "$W/$name.vg" | head -n 120 >&2
		fail "memcheck errors in pkcs11-tool $* (full report: $W/$name.vg)"
	fi
	[ "$rc" -eq 0 ] || fail "pkcs11-tool $* exited with $rc: $(head -c 600 "$W/$name.out")"
	grep -q 'ERROR SUMMARY: 0 errors' "$W/$name.vg" ||
		fail "no clean ERROR SUMMARY for pkcs11-tool $*"
}

step "pkcs11-tool -L and -O (no login) under memcheck"
# The first run has no cache: the module fetches the credentials in its
# refresh thread (under memcheck too), waiting a bounded time for it. Under
# valgrind that can take longer than the wait; a run without valgrind then
# fills the cache, so that the next runs list the objects deterministically.
vg list -L
assert_contains "$(cat "$W/list.out")" "token label        : CISRES alice" "slot list"
pkcs11-tool --module "$MOD" -L >/dev/null 2>&1 || fail "pkcs11-tool -L"
vg objects -O
assert_eq "$(grep -c '^Certificate Object' "$W/objects.out")" 4 "2 user + 2 CA certificates"
assert_eq "$(grep -c '^Private Key Object' "$W/objects.out")" 0 "no private key before login"

step "pkcs11-tool -O --login under memcheck"
vg objects-login -O --login --pin "$PIN"
assert_eq "$(grep -c '^Private Key Object' "$W/objects-login.out")" 2 "private keys after login"

step "ECDSA-SHA256 and SHA256-RSA-PKCS signatures under memcheck, checked by OpenSSL"
head -c 4000 /dev/urandom >"$W/data"
vg sign-ec --sign -m ECDSA-SHA256 --id "$EC_ID" --login --pin "$PIN" -i "$W/data" \
	-o "$W/ec.sig"
p11_rs_to_der "$W/ec.sig" "$W/ec.sig.der"
openssl dgst -sha256 -verify "$W/EC.pub.pem" -signature "$W/ec.sig.der" "$W/data" >/dev/null ||
	fail "OpenSSL rejects the ECDSA signature"
vg sign-rsa --sign -m SHA256-RSA-PKCS --id "$RSA_ID" --login --pin "$PIN" -i "$W/data" \
	-o "$W/rsa.sig"
openssl dgst -sha256 -verify "$W/RSA.pub.pem" -signature "$W/rsa.sig" "$W/data" >/dev/null ||
	fail "OpenSSL rejects the RSA signature"

step "C_Verify (pkcs11-tool --verify) under memcheck"
vg verify --verify -m ECDSA-SHA256 --id "$EC_ID" -i "$W/data" --signature-file "$W/ec.sig"
assert_contains "$(cat "$W/verify.out")" "Signature is valid" "C_Verify of the ECDSA signature"
note "$VG_RUNS pkcs11-tool runs under memcheck, no errors"
