#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module in NSS (the library of Firefox, Thunderbird,
# LibreOffice, pdfsig): added to a fresh database with modutil, its
# certificates listed by certutil as user certificates (NSS pairs them with
# the private keys by CKA_ID) next to the CA chain served by the token, the
# keys listed with certutil -K, the chain validated by NSS from the token's
# CA objects, and CMS signatures made by cmsutil with an EC and an RSA key —
# verified by OpenSSL against the CA the CSC API returns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

for t in modutil certutil cmsutil vfychain; do
	command -v "$t" >/dev/null || fail "$t (libnss3-tools) is required"
done
p11_start
DB=sql:$W/nssdb
mkdir -p "$W/nssdb"

step "enroll alice (EC P-256) and bob (RSA-2048), both SCAL1; log in both"
ALICE_PW='alice-Pw-1234'
BOB_PW='bob-Pw-5678'
enroll_user alice "$ALICE_PW" >/dev/null
enroll_user bob "$BOB_PW" >/dev/null
ALICE=$(enroll_cred alice 1122 --key ec-p256 --scal 1 --auth pin --multisign 100)
BOB=$(enroll_cred bob 3344 --key rsa-2048 --scal 1 --auth pin --multisign 100)
p11_cert "$ALICE" alice "$ALICE_PW" "$W/alice"
p11_cert "$BOB" bob "$BOB_PW" "$W/bob"
p11_login alice "$ALICE_PW"
p11_login bob "$BOB_PW"
# NSS password file: one "token:PIN" line per token
printf 'CISRES alice:1122\nCISRES bob:3344\n' >"$W/pins"
chmod 600 "$W/pins"

step "a fresh NSS database; modutil -add the module"
certutil -N -d "$DB" --empty-password || fail "certutil -N"
out=$(modutil -dbdir "$DB" -add cisres -libfile "$MOD" -force 2>&1 </dev/null) ||
	fail "modutil -add: $out"
out=$(modutil -dbdir "$DB" -list cisres 2>&1 </dev/null) || fail "modutil -list: $out"
assert_contains "$out" "Slot: CISRES alice at $CISRES_BASE" "alice's slot"
assert_contains "$out" "Token Name: CISRES alice" "alice's token"
assert_contains "$out" "Token Name: CISRES bob" "bob's token"
assert_contains "$out" "Manufacturer: CISRES" "manufacturer"

step "certutil -L: the signers' certificates are user certificates (u,u,u), the CAs are listed"
out=$(certutil -L -d "$DB" -h all -f "$W/pins" 2>&1 </dev/null) || fail "certutil -L: $out"
grep -Eq '^CISRES alice:Test Alice +u,u,u$' <<<"$out" || fail "alice's certificate: $out"
grep -Eq '^CISRES bob:Test Bob +u,u,u$' <<<"$out" || fail "bob's certificate: $out"
assert_contains "$out" "CISRES alice:CISRES Demo Issuing CA" "issuing CA on alice's token"
assert_contains "$out" "CISRES alice:CISRES Demo Root CA" "root CA on alice's token"
certutil -L -d "$DB" -h "CISRES alice" -n "CISRES alice:Test Alice" -r -f "$W/pins" \
	>"$W/alice.nss.der" </dev/null ||
	fail "certutil -L -n -r"
openssl x509 -in "$W/alice.pem" -outform DER -out "$W/alice.api.der"
cmp -s "$W/alice.nss.der" "$W/alice.api.der" || fail "NSS sees another certificate than the API's"

step "certutil -K: the private keys, with CKA_ID = SHA-1 of the SPKI"
out=$(certutil -K -d "$DB" -h "CISRES alice" -f "$W/pins" 2>&1 </dev/null) ||
	fail "certutil -K alice: $out"
assert_contains "$out" "ec       $(cat "$W/alice.id")   Test Alice" "alice's key"
out=$(certutil -K -d "$DB" -h "CISRES bob" -f "$W/pins" 2>&1 </dev/null) ||
	fail "certutil -K bob: $out"
assert_contains "$out" "rsa      $(cat "$W/bob.id")   Test Bob" "bob's key"

step "NSS builds the chain from the token's CA objects (root trusted in the database)"
certutil -A -d "$DB" -n "CISRES test root" -t "C,C,C" -i "$W/alice.ca2.pem" </dev/null ||
	fail "certutil -A root"
# Only the root is in the database: the issuing CA must come from the token.
out=$(vfychain -d "$DB" -pp -u 4 "$W/alice.api.der" 2>&1 </dev/null) || fail "vfychain: $out"
assert_contains "$out" "Chain is good!" "chain validation (email signer)"

step "cmsutil -S: CMS signatures by NSS through the module, verified by OpenSSL"
# -G: with signed attributes (signing time), as CAdES has them. (Without any,
# cmsutil puts an ECDSA signature into SignerInfo as raw r||s, not DER.)
for who in alice bob; do
	nick="CISRES $who:Test ${who^}"
	out=$(cmsutil -S -G -N "$nick" -Y NONE -H SHA256 -i "$W/data" -o "$W/$who.p7s" -d "$DB" \
		-f "$W/pins" 2>&1 </dev/null) || fail "cmsutil -S as $who: $out"
	[ -s "$W/$who.p7s" ] || fail "no CMS signature from $who"
	OPENSSL_CONF=/dev/null openssl cms -verify -binary -inform DER -in "$W/$who.p7s" \
		-content "$W/data" -CAfile "$W/$who.ca2.pem" -certfile "$W/$who.ca1.pem" \
		-purpose any -out /dev/null 2>"$W/verify.err" ||
		fail "OpenSSL rejects $who's CMS signature: $(cat "$W/verify.err")"
done
