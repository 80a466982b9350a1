#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module under OpenSSL 3 through pkcs11-provider (which finds
# the module through C_GetInterface, PKCS#11 3.0): the token's objects as an
# OpenSSL store, `openssl dgst -sign` and `pkeyutl -sign` with EC and RSA
# (PKCS#1 v1.5 and PSS) keys, SCAL2 with the OTP from otp_command, a CMS
# signature, and TLS 1.3 client authentication with the RSA key. Every
# signature is verified by OpenSSL's default provider against the
# certificates the CSC API returns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

PROV=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')/pkcs11.so
[ -f "$PROV" ] || fail "pkcs11-provider is required ($PROV)"
p11_start
PIN=97531

step "enroll alice (RSA-2048, EC P-256 at SCAL1; EC P-384 at SCAL2) and log in"
ALICE_PW='alice-Pw-1234'
ALICE_OTP=$(enroll_user alice "$ALICE_PW")
RSA=$(enroll_cred alice "$PIN" --key rsa-2048 --scal 1 --auth pin --multisign 1000)
EC=$(enroll_cred alice "$PIN" --key ec-p256 --scal 1 --auth pin --multisign 1000)
EC2=$(enroll_cred alice "$PIN" --key ec-p384 --scal 2 --auth pin+otp)
p11_cert "$RSA" alice "$ALICE_PW" "$W/RSA"
p11_cert "$EC" alice "$ALICE_PW" "$W/EC"
p11_cert "$EC2" alice "$ALICE_PW" "$W/EC2"
cat "$W/EC.ca1.pem" "$W/EC.ca2.pem" >"$W/chain.pem"
p11_login alice "$ALICE_PW"
p11_conf_set alice "otp_command = $(p11_otp_command "$ALICE_OTP")"

# pkcs11:id=%xx%yy...;type=private for a hex CKA_ID
uri() { printf 'pkcs11:id=%s;type=private' "$(sed 's/../%&/g' "$W/$1.id")"; }

printf '%s\n' "$PIN" >"$W/pin"
chmod 600 "$W/pin"
cat >"$W/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $PROV
pkcs11-module-path = $MOD
pkcs11-module-token-pin = file:$W/pin
activate = 1
EOF
# with the module / plain OpenSSL to check the results
ossl_p11() { OPENSSL_CONF=$W/openssl.cnf openssl "$@"; }
ossl() { OPENSSL_CONF=/dev/null openssl "$@"; }

step "the token as an OpenSSL store: 5 certificates, 3 private keys with their CKA_ID"
out=$(ossl_p11 storeutl -text pkcs11: 2>&1) || fail "storeutl pkcs11: $out"
assert_eq "$(grep -cE '^[0-9]+: Certificate' <<<"$out")" 5 "certificates in the store"
assert_eq "$(grep -cE '^[0-9]+: Pkey' <<<"$out")" 3 "private keys in the store"
for c in RSA EC EC2; do
	assert_contains "${out,,}" "$(uri "$c" | sed 's/^pkcs11://; s/;type=private//')" "key $c"
done
assert_contains "$out" "token=CISRES%20alice" "token label in the URIs"
assert_contains "$out" "Subject: O=CISRES Demo, CN=CISRES Demo Root CA" "root CA"

step "openssl dgst -sign with the EC P-256 key (SHA-256/384/512)"
for h in sha256 sha384 sha512; do
	ossl_p11 dgst "-$h" -sign "$(uri EC)" -out "$W/sig" "$W/data" ||
		fail "openssl dgst -$h -sign (EC)"
	ossl dgst "-$h" -verify "$W/EC.pub.pem" -signature "$W/sig" "$W/data" >/dev/null ||
		fail "EC $h signature does not verify"
done

step "openssl pkeyutl -sign over a digest (CKM_ECDSA)"
ossl dgst -sha256 -binary "$W/data" >"$W/digest"
ossl_p11 pkeyutl -sign -inkey "$(uri EC)" -in "$W/digest" -out "$W/sig" ||
	fail "pkeyutl -sign (EC)"
ossl pkeyutl -verify -pubin -inkey "$W/EC.pub.pem" -in "$W/digest" -sigfile "$W/sig" >/dev/null ||
	fail "raw ECDSA signature does not verify"

step "openssl dgst -sign with the RSA key: PKCS#1 v1.5 and PSS"
for h in sha256 sha512; do
	ossl_p11 dgst "-$h" -sign "$(uri RSA)" -out "$W/sig" "$W/data" || fail "RSA $h"
	ossl dgst "-$h" -verify "$W/RSA.pub.pem" -signature "$W/sig" "$W/data" >/dev/null ||
		fail "RSA PKCS#1 v1.5 $h signature does not verify"
	ossl_p11 dgst "-$h" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
		-sign "$(uri RSA)" -out "$W/sig" "$W/data" || fail "RSA-PSS $h"
	ossl dgst "-$h" -verify "$W/RSA.pub.pem" -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:auto -signature "$W/sig" "$W/data" >/dev/null ||
		fail "RSA-PSS $h signature does not verify"
done
ossl dgst -sha256 -binary "$W/data" >"$W/digest"
ossl_p11 pkeyutl -sign -inkey "$(uri RSA)" -in "$W/digest" -out "$W/sig" \
	-pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 ||
	fail "pkeyutl -sign RSA-PSS over a digest"
ossl pkeyutl -verify -pubin -inkey "$W/RSA.pub.pem" -in "$W/digest" -sigfile "$W/sig" \
	-pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 \
	>/dev/null || fail "RSA-PSS over a digest does not verify"

step "SCAL2: the EC P-384 key, authorized per signature with an OTP from otp_command"
ossl_p11 dgst -sha384 -sign "$(uri EC2)" -out "$W/sig" "$W/data" || fail "SCAL2 signature"
ossl dgst -sha384 -verify "$W/EC2.pub.pem" -signature "$W/sig" "$W/data" >/dev/null ||
	fail "SCAL2 signature does not verify"

step "openssl cms -sign (EC and RSA-PSS signers), verified against the CA chain"
ossl_p11 cms -sign -binary -in "$W/data" -signer "$W/EC.pem" -inkey "$(uri EC)" \
	-certfile "$W/chain.pem" -outform DER -out "$W/data.p7s" || fail "cms -sign (EC)"
ossl cms -verify -binary -inform DER -in "$W/data.p7s" -content "$W/data" \
	-CAfile "$W/EC.ca2.pem" -purpose any -out /dev/null 2>/dev/null ||
	fail "the EC CMS signature does not verify"
ossl_p11 cms -sign -binary -in "$W/data" -signer "$W/RSA.pem" -inkey "$(uri RSA)" \
	-keyopt rsa_padding_mode:pss -md sha384 -certfile "$W/chain.pem" -outform DER \
	-out "$W/rsa.p7s" ||
	fail "cms -sign (RSA-PSS)"
ossl cms -verify -binary -inform DER -in "$W/rsa.p7s" -content "$W/data" \
	-CAfile "$W/RSA.ca2.pem" -purpose any -out /dev/null 2>/dev/null ||
	fail "the RSA-PSS CMS signature does not verify"
ossl cms -cmsout -print -inform DER -in "$W/rsa.p7s" | grep -q "rsassaPss" ||
	fail "the CMS signature is not RSASSA-PSS"

step "TLS 1.3 client authentication with the RSA key (RSA-PSS through the token)"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/srv.key" \
	-out "$W/srv.pem" -subj /CN=localhost -days 1 2>/dev/null || fail "server certificate"
port=$(cisres_free_port)
OPENSSL_CONF=/dev/null timeout 30 openssl s_server -accept "127.0.0.1:$port" -cert "$W/srv.pem" \
	-key "$W/srv.key" -Verify 1 -verify_return_error -CAfile "$W/chain.pem" -tls1_3 \
	-naccept 1 -www >"$W/s_server.log" 2>&1 &
srv=$!
for _ in $(seq 1 50); do
	grep -q ACCEPT "$W/s_server.log" 2>/dev/null && break
	sleep 0.1
done
out=$( (printf 'GET / HTTP/1.0\r\n\r\n'; sleep 2) | OPENSSL_CONF=$W/openssl.cnf timeout 30 \
	openssl s_client -connect "127.0.0.1:$port" -tls1_3 -cert "$W/RSA.pem" -key "$(uri RSA)" \
	-CAfile "$W/srv.pem" -quiet 2>&1) || true
wait "$srv" || true
assert_contains "$out" "Peer signature type: RSA-PSS" "client signature in TLS 1.3"
assert_contains "$out" "Client certificate" "the server saw the client certificate"
assert_contains "$out" "CN=Test Alice" "client certificate subject"
