#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module through OpenSC's pkcs11-tool against a real cisresd:
# slot and token information, objects before and after login (certificate,
# public and private key per credential with CKA_ID = SHA-1 of the SPKI, the
# CA chain), every signing mechanism on an RSA-2048, an EC P-256 and an EC
# P-384 (SCAL2, OTP from otp_command) key — each signature verified by
# OpenSSL against the certificate the CSC API returns —, local digest and
# verify, random numbers, refused inputs and PINs, --test, --test-threads
# and --test-fork.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

command -v pkcs11-tool >/dev/null || fail "pkcs11-tool (opensc) is required"
p11_start

p11() { pkcs11-tool --module "$MOD" "$@"; }
PIN=246810

step "enroll alice (RSA-2048 and EC P-256 at SCAL1, EC P-384 at SCAL2) and bob (EC P-256)"
ALICE_PW='alice-Pw-1234'
ALICE_OTP=$(enroll_user alice "$ALICE_PW")
RSA=$(enroll_cred alice "$PIN" --key rsa-2048 --scal 1 --auth pin --multisign 1000)
EC=$(enroll_cred alice "$PIN" --key ec-p256 --scal 1 --auth pin --multisign 1000)
EC2=$(enroll_cred alice "$PIN" --key ec-p384 --scal 2 --auth pin+otp)
BOB_PW='bob-Pw-5678'
enroll_user bob "$BOB_PW" >/dev/null
BOBC=$(enroll_cred bob 13579 --key ec-p256 --scal 1 --auth pin --multisign 1000)
p11_cert "$RSA" alice "$ALICE_PW" "$W/RSA"
p11_cert "$EC" alice "$ALICE_PW" "$W/EC"
p11_cert "$EC2" alice "$ALICE_PW" "$W/EC2"
p11_cert "$BOBC" bob "$BOB_PW" "$W/BOB"
RSA_ID=$(cat "$W/RSA.id")
EC_ID=$(cat "$W/EC.id")
EC2_ID=$(cat "$W/EC2.id")

step "cisres login; the OTP of SCAL2 signatures comes from otp_command"
p11_login alice "$ALICE_PW"
p11_conf_set alice "otp_command = $(p11_otp_command "$ALICE_OTP")"

step "module information and the slot (pkcs11-tool -I -L)"
out=$(p11 -I 2>&1) || fail "pkcs11-tool -I: $out"
assert_contains "$out" "Cryptoki version 3.0" "cryptoki version"
assert_contains "$out" "Manufacturer     CISRES" "manufacturer"
out=$(p11 -L 2>&1) || fail "pkcs11-tool -L: $out"
assert_contains "$out" "Slot 0 (0x0): CISRES alice at $CISRES_BASE" "slot description"
assert_contains "$out" "token label        : CISRES alice" "token label"
assert_contains "$out" "token manufacturer : CISRES" "token manufacturer"
assert_contains "$out" "token model        : Remote QES" "token model"
assert_contains "$out" \
	"token flags        : login required, rng, token initialized, PIN initialized, readonly" \
	"token flags"
assert_contains "$out" "pin min/max        : " "PIN lengths"

step "mechanisms (pkcs11-tool -M)"
out=$(p11 -M 2>&1) || fail "pkcs11-tool -M: $out"
assert_contains "$out" "RSA-PKCS, keySize={2048,4096}, sign, verify" "CKM_RSA_PKCS"
assert_contains "$out" "SHA256-RSA-PKCS-PSS, keySize={2048,4096}, sign, verify" "PSS"
assert_contains "$out" "ECDSA, keySize={256,521}, sign, verify, EC F_P, EC OID, EC uncompressed" \
	"CKM_ECDSA"
assert_contains "$out" "SHA256, digest" "CKM_SHA256"
assert_not_contains "$out" "decrypt" "no decryption mechanism"

step "before login: certificates and public keys, no private key"
out=$(p11 -O 2>&1) || fail "pkcs11-tool -O: $out"
assert_eq "$(grep -c '^Certificate Object' <<<"$out")" 5 "3 user + 2 CA certificates"
assert_eq "$(grep -c '^Public Key Object' <<<"$out")" 3 "public keys"
assert_eq "$(grep -c '^Private Key Object' <<<"$out")" 0 "private keys hidden before login"
for id in $RSA_ID $EC_ID $EC2_ID $(p11_spki_id "$W/EC.ca1.pem") $(p11_spki_id "$W/EC.ca2.pem"); do
	assert_contains "$out" "ID:         $id" "CKA_ID = SHA-1(SPKI)"
done
assert_contains "$out" "label:      Test Alice" "label = subject CN"
assert_contains "$out" "label:      $(openssl x509 -in "$W/EC.ca1.pem" -noout -subject -nameopt multiline |
	sed -n 's/^ *commonName *= //p')" "CA label"

step "the certificate objects hold the CSC API's certificates"
for c in RSA EC EC2; do
	id=$(cat "$W/$c.id")
	p11 --read-object --type cert --id "$id" -o "$W/$c.tok.der" >/dev/null 2>&1 ||
		fail "reading certificate $id"
	openssl x509 -in "$W/$c.pem" -outform DER -out "$W/$c.api.der"
	cmp -s "$W/$c.tok.der" "$W/$c.api.der" || fail "certificate $c differs from the API's"
done

step "after login: the private keys, sensitive, never extractable, sign only"
out=$(p11 -O --login --pin "$PIN" 2>&1) || fail "pkcs11-tool -O --login: $out"
assert_eq "$(grep -c '^Private Key Object' <<<"$out")" 3 "private keys after login"
assert_contains "$out" "Access:     sensitive, always sensitive, never extractable" "key access"
assert_not_contains "$out" "decrypt" "no decrypting key"
assert_contains "$out" "Allowed mechanisms: ECDSA,ECDSA-SHA1,ECDSA-SHA224" "EC allowed mechanisms"
out=$(p11 -O --type privkey --id "$RSA_ID" --login --pin "$PIN" 2>&1)
assert_contains "$out" "Allowed mechanisms: RSA-PKCS,SHA1-RSA-PKCS" "RSA allowed mechanisms"
assert_not_contains "$out" "always authenticate" "SCAL1: no context-specific login"

verified() { # MESSAGE COMMAND...: the command (an OpenSSL verification) must succeed
	local what=$1
	shift
	"$@" >/dev/null 2>&1 || fail "$what: OpenSSL rejects the signature"
}

# sign ID MECH IN OUT [pkcs11-tool options]: one signature through the module.
sign() {
	local id=$1 mech=$2 in=$3 sig=$4 out
	shift 4
	rm -f "$sig"
	out=$(p11 --sign -m "$mech" --id "$id" --login --pin "$PIN" -i "$in" -o "$sig" "$@" 2>&1) ||
		fail "signing with $mech (key $id) failed: $out"
	[ -s "$sig" ] || fail "no signature from $mech"
}

step "RSA-2048: RSA-PKCS over DigestInfos, SHA*-RSA-PKCS, RSA-PKCS-PSS, SHA*-RSA-PKCS-PSS"
for h in sha256 sha384 sha512; do
	p11_digestinfo "$h" "$W/data" "$W/di.$h"
	sign "$RSA_ID" RSA-PKCS "$W/di.$h" "$W/sig"
	assert_eq "$(stat -c %s "$W/sig")" 256 "RSA signature length"
	verified "RSA-PKCS ($h)" openssl dgst "-$h" -verify "$W/RSA.pub.pem" -signature "$W/sig" "$W/data"
	H=${h^^}
	sign "$RSA_ID" "$H-RSA-PKCS" "$W/data" "$W/sig"
	verified "$H-RSA-PKCS" openssl dgst "-$h" -verify "$W/RSA.pub.pem" -signature "$W/sig" "$W/data"
	salt=$((${h#sha} / 8))
	openssl dgst "-$h" -binary "$W/data" >"$W/digest.$h"
	sign "$RSA_ID" RSA-PKCS-PSS "$W/digest.$h" "$W/sig" --hash-algorithm "$H" \
		--mgf "MGF1-$H" --salt-len "$salt"
	verified "RSA-PKCS-PSS ($h)" openssl pkeyutl -verify -pubin -inkey "$W/RSA.pub.pem" \
		-in "$W/digest.$h" -sigfile "$W/sig" -pkeyopt rsa_padding_mode:pss \
		-pkeyopt "digest:$h" -pkeyopt "rsa_mgf1_md:$h" -pkeyopt "rsa_pss_saltlen:$salt"
	sign "$RSA_ID" "$H-RSA-PKCS-PSS" "$W/data" "$W/sig" --mgf "MGF1-$H" --salt-len "$salt"
	verified "$H-RSA-PKCS-PSS" openssl dgst "-$h" -verify "$W/RSA.pub.pem" -signature "$W/sig" \
		-sigopt rsa_padding_mode:pss -sigopt "rsa_pss_saltlen:$salt" "$W/data"
done

step "EC P-256: ECDSA over digests of each length, ECDSA-SHA*; r||s of 2 x 32 bytes"
for h in sha256 sha384 sha512; do
	openssl dgst "-$h" -binary "$W/data" >"$W/digest.$h"
	sign "$EC_ID" ECDSA "$W/digest.$h" "$W/sig"
	assert_eq "$(stat -c %s "$W/sig")" 64 "P-256 r||s length"
	p11_rs_to_der "$W/sig" "$W/sig.der"
	verified "ECDSA ($h digest)" openssl pkeyutl -verify -pubin -inkey "$W/EC.pub.pem" \
		-in "$W/digest.$h" -sigfile "$W/sig.der"
	sign "$EC_ID" "ECDSA-${h^^}" "$W/data" "$W/sig"
	p11_rs_to_der "$W/sig" "$W/sig.der"
	verified "ECDSA-${h^^}" openssl dgst "-$h" -verify "$W/EC.pub.pem" -signature "$W/sig.der" \
		"$W/data"
done

step "EC P-384 at SCAL2: two signatures in a row, each authorized with a fresh OTP"
for h in sha384 sha256; do
	sign "$EC2_ID" "ECDSA-${h^^}" "$W/data" "$W/sig"
	assert_eq "$(stat -c %s "$W/sig")" 96 "P-384 r||s length"
	p11_rs_to_der "$W/sig" "$W/sig.der"
	verified "SCAL2 ECDSA-${h^^}" openssl dgst "-$h" -verify "$W/EC2.pub.pem" \
		-signature "$W/sig.der" "$W/data"
done

step "SCAL2 without otp_command: CKA_ALWAYS_AUTHENTICATE, the OTP by a context-specific login"
CAROL_PW='carol-Pw-2468'
CAROL_OTP=$(enroll_user carol "$CAROL_PW")
CAROLC=$(enroll_cred carol "$PIN" --key ec-p256 --scal 2 --auth pin+otp)
p11_cert "$CAROLC" carol "$CAROL_PW" "$W/CAROL"
p11_login carol "$CAROL_PW"
CAROL_ID=$(cat "$W/CAROL.id")
out=$(p11 --token-label "CISRES carol" -O --type privkey --login --pin "$PIN" 2>&1)
assert_contains "$out" "Access:     always authenticate, sensitive" "CKA_ALWAYS_AUTHENTICATE"
# pkcs11-tool reads both secrets from its terminal: the PIN, then the OTP.
totp_settle 5
out=$(p11_pty "User PIN:" "$PIN" "context specific PIN:" "$(totp "$CAROL_OTP")" -- \
	pkcs11-tool --module "$MOD" --token-label "CISRES carol" --sign -m ECDSA-SHA256 \
	--id "$CAROL_ID" --login -i "$W/data" -o "$W/sig") || fail "context-specific login: $out"
p11_rs_to_der "$W/sig" "$W/sig.der"
verified "SCAL2 with a context-specific OTP" openssl dgst -sha256 -verify "$W/CAROL.pub.pem" \
	-signature "$W/sig.der" "$W/data"
out=$(p11_pty "User PIN:" "$PIN" "context specific PIN:" "$(totp "$CAROL_OTP" 10)" -- \
	pkcs11-tool --module "$MOD" --token-label "CISRES carol" --sign -m ECDSA-SHA256 \
	--id "$CAROL_ID" --login -i "$W/data" -o "$W/sig") && fail "a wrong OTP was accepted"
assert_contains "$out" "CKR_PIN_INCORRECT" "wrong OTP"

step "local C_Verify accepts the module's signature and rejects a changed message"
sign "$EC_ID" ECDSA-SHA256 "$W/data" "$W/sig"
out=$(p11 --verify -m ECDSA-SHA256 --id "$EC_ID" -i "$W/data" --signature-file "$W/sig" 2>&1) ||
	fail "C_Verify rejects a good signature: $out"
assert_contains "$out" "Signature is valid" "C_Verify"
cp "$W/data" "$W/data2"
printf 'x' >>"$W/data2"
# (pkcs11-tool --verify exits 0 either way: its message tells.)
out=$(p11 --verify -m ECDSA-SHA256 --id "$EC_ID" -i "$W/data2" --signature-file "$W/sig" 2>&1)
assert_contains "$out" "Invalid signature" "C_Verify of a changed message"
assert_not_contains "$out" "Signature is valid" "C_Verify of a changed message"
sign "$RSA_ID" SHA256-RSA-PKCS-PSS "$W/data" "$W/sig" --mgf MGF1-SHA256 --salt-len 32
out=$(p11 --verify -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --salt-len 32 --id "$RSA_ID" \
	-i "$W/data" --signature-file "$W/sig" 2>&1) || fail "C_Verify (PSS): $out"
assert_contains "$out" "Signature is valid" "C_Verify (PSS)"

step "local digests equal OpenSSL's; random numbers"
for h in SHA-1:sha1 SHA256:sha256 SHA384:sha384 SHA512:sha512; do
	p11 --hash -m "${h%%:*}" -i "$W/data" -o "$W/hash" >/dev/null 2>&1 || fail "hash ${h%%:*}"
	cmp -s "$W/hash" <(openssl dgst "-${h##*:}" -binary "$W/data") || fail "digest ${h%%:*} differs"
done
p11 --generate-random 64 -o "$W/rand" >/dev/null 2>&1 || fail "C_GenerateRandom"
assert_eq "$(stat -c %s "$W/rand")" 64 "random bytes"

step "refused: a raw digest for RSA-PKCS, ECDSA on the RSA key, a digest of no SHA-2 length"
out=$(p11 --sign -m RSA-PKCS --id "$RSA_ID" --login --pin "$PIN" -i "$W/digest.sha256" \
	-o "$W/sig" 2>&1) && fail "RSA-PKCS signed a bare digest"
assert_contains "$out" "CKR_DATA_INVALID" "RSA-PKCS without a DigestInfo"
out=$(p11 --sign -m ECDSA --id "$RSA_ID" --login --pin "$PIN" -i "$W/digest.sha256" \
	-o "$W/sig" 2>&1) && fail "ECDSA with an RSA key"
assert_contains "$out" "CKR_KEY_TYPE_INCONSISTENT" "ECDSA with an RSA key"
head -c 33 "$W/data" >"$W/odd"
out=$(p11 --sign -m ECDSA --id "$EC_ID" --login --pin "$PIN" -i "$W/odd" -o "$W/sig" 2>&1) &&
	fail "ECDSA over 33 bytes"
assert_contains "$out" "CKR_DATA_LEN_RANGE" "ECDSA digest length"

step "refused: a wrong PIN, the SO, writing to the token"
out=$(p11 -O --login --pin 999999 2>&1) && fail "login with a wrong PIN"
assert_contains "$out" "CKR_PIN_INCORRECT" "wrong PIN"
out=$(p11 -O --login --login-type so --so-pin "$PIN" 2>&1) && fail "SO login"
assert_contains "$out" "CKR_USER_TYPE_INVALID" "SO login"
out=$(p11 --login --pin "$PIN" --write-object "$W/EC.pem" --type cert --id 01 2>&1) &&
	fail "writing a certificate"
assert_contains "$out" "CKR_TOKEN_WRITE_PROTECTED" "write to the token"

step "pkcs11-tool --test on bob's token (EC): random, digests, objects, sessions"
p11_login bob "$BOB_PW"
out=$(p11 --token-label "CISRES bob" --test --login --pin 13579 --allow-sw 2>&1) ||
	fail "pkcs11-tool --test: $out"
assert_contains "$out" "No errors" "pkcs11-tool --test"
assert_contains "$out" "all 4 digest functions seem to work" "digests"

step "pkcs11-tool --test-threads and --test-fork"
out=$(p11 --test-threads ILGISLT0 --test-threads ILGISLT0 --test-threads INGISLT0 \
	--test-threads ILGISLT1 -L 2>&1) || fail "pkcs11-tool --test-threads: $out"
# 4 threads with one token each, then -L with the 3 accounts' tokens
assert_eq "$(grep -c 'token label        : CISRES' <<<"$out")" 7 "token info from every thread"
out=$(p11 --test-fork -L 2>&1) || fail "pkcs11-tool --test-fork: $out"
assert_contains "$out" "CISRES alice" "slots after fork"
