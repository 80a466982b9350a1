#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module under GnuTLS: p11tool lists the token, its
# certificates (the CSC API's, byte for byte) and, after login only, its
# private keys; p11tool --test-sign with ECDSA, RSA PKCS#1 v1.5 and RSA-PSS;
# certtool signs a certificate request and a PKCS#7 message through the
# token, verified by OpenSSL against the certificates the CSC API returns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

for t in p11tool certtool; do
	command -v "$t" >/dev/null || fail "$t (gnutls-bin) is required"
done
p11_start
PIN=864200

step "enroll alice (EC P-256 and RSA-2048, SCAL1) and log in"
ALICE_PW='alice-Pw-1234'
enroll_user alice "$ALICE_PW" >/dev/null
EC=$(enroll_cred alice "$PIN" --key ec-p256 --scal 1 --auth pin --multisign 100)
RSA=$(enroll_cred alice "$PIN" --key rsa-2048 --scal 1 --auth pin --multisign 100)
p11_cert "$EC" alice "$ALICE_PW" "$W/EC"
p11_cert "$RSA" alice "$ALICE_PW" "$W/RSA"
cat "$W/EC.ca1.pem" "$W/EC.ca2.pem" >"$W/chain.pem"
p11_login alice "$ALICE_PW"

p11t() { p11tool --provider "$MOD" "$@"; }
export GNUTLS_PIN=$PIN
TOKEN="pkcs11:token=CISRES%20alice"
# token URI of the key or certificate with a credential's CKA_ID
obj() { printf '%s;id=%s;type=%s' "$TOKEN" "$(sed 's/../%&/g' "$W/$1.id")" "$2"; }

step "p11tool --list-tokens"
out=$(p11t --list-tokens 2>&1) || fail "p11tool --list-tokens: $out"
assert_contains "$out" "Label: CISRES alice" "token label"
assert_contains "$out" "Manufacturer: CISRES" "manufacturer"
assert_contains "$out" "Model: Remote QES" "model"
assert_contains "$out" "Flags: RNG, Requires login" "token flags"

step "p11tool --list-all: certificates and public keys; private keys only after login"
out=$(p11t --list-all "$TOKEN" 2>&1) || fail "p11tool --list-all: $out"
assert_eq "$(grep -c 'Type: X.509 Certificate' <<<"$out")" 4 "2 signer + 2 CA certificates"
assert_eq "$(grep -c 'Type: Public key' <<<"$out")" 2 "public keys"
assert_eq "$(grep -c 'Type: Private key' <<<"$out")" 0 "private keys before login"
out=$(p11t --login --list-all "$TOKEN" 2>&1) || fail "p11tool --login --list-all: $out"
assert_contains "$out" "Type: Private key (EC/ECDSA-SECP256R1)" "EC private key"
assert_contains "$out" "Type: Private key (RSA-2048)" "RSA private key"
assert_contains "$out" "Flags: CKA_PRIVATE; CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;" "key flags"
assert_contains "$out" "ID: $(sed 's/../&:/g; s/:$//' "$W/EC.id")" "CKA_ID = SHA-1(SPKI)"

step "p11tool --export: the certificate objects are the CSC API's certificates"
for c in EC RSA; do
	p11t --export "$(obj "$c" cert)" --outfile "$W/$c.tok.pem" >/dev/null 2>&1 ||
		fail "p11tool --export $c"
	cmp -s <(openssl x509 -in "$W/$c.tok.pem" -outform DER) \
		<(openssl x509 -in "$W/$c.pem" -outform DER) || fail "certificate $c differs"
done

step "p11tool --test-sign: ECDSA, RSA PKCS#1 v1.5, RSA-PSS"
for args in "EC" "RSA" "RSA --sign-params rsa-pss"; do
	read -r c extra <<<"$args"
	# shellcheck disable=SC2086
	out=$(p11t --login $extra --test-sign "$(obj "$c" private)" 2>&1) ||
		fail "p11tool --test-sign $args: $out"
	assert_contains "$out" "Verifying against public key in the token... ok" "test-sign $args"
done

step "certtool --generate-request with the token's EC key; OpenSSL checks it"
printf 'cn = "Test Alice request"\nsigning_key\n' >"$W/req.tmpl"
out=$(certtool --provider "$MOD" --generate-request --load-privkey "$(obj EC private)" \
	--template "$W/req.tmpl" --outfile "$W/req.pem" 2>&1) || fail "certtool request: $out"
OPENSSL_CONF=/dev/null openssl req -in "$W/req.pem" -verify -noout 2>/dev/null ||
	fail "the request's signature does not verify"
cmp -s <(openssl req -in "$W/req.pem" -pubkey -noout) "$W/EC.pub.pem" ||
	fail "the request does not carry the credential's public key"

step "certtool --p7-sign (EC and RSA) through the token; OpenSSL verifies the chain"
for c in EC RSA; do
	out=$(certtool --provider "$MOD" --p7-sign --load-privkey "$(obj "$c" private)" \
		--load-certificate "$W/$c.pem" --infile "$W/data" --outfile "$W/$c.p7s" 2>&1) ||
		fail "certtool --p7-sign $c: $out"
	OPENSSL_CONF=/dev/null openssl cms -verify -binary -inform PEM -in "$W/$c.p7s" \
		-CAfile "$W/chain.pem" -purpose any -out "$W/$c.content" 2>"$W/verify.err" ||
		fail "OpenSSL rejects the $c PKCS#7 signature: $(cat "$W/verify.err")"
	cmp -s "$W/$c.content" "$W/data" || fail "the $c PKCS#7 carries another content"
done
