#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Authenticode through the module: osslsigncode (with the libp11 engine,
# -pkcs11engine/-pkcs11module) signs a minimal PE32+ built by mkpe.py with
# the RSA-2048 key (certificate from a file, SHA-256) and the EC P-256 key
# (certificate read from the token, SHA-384). osslsigncode verify accepts
# the results against the service's CA; authenticode.py checks them
# independently with Python's cryptography (PE image hash, messageDigest,
# SignerInfo signature); openssl pkcs7 -print_certs shows the signer. A
# patched file fails both checks.
. "$(dirname "$0")/apps_lib.sh"

apps_require osslsigncode
ENGINE=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')/pkcs11.so
[ -f "$ENGINE" ] || fail "no libp11 engine ($ENGINE): install libengine-pkcs11-openssl"
apps_start

"$PY" "$CISRES_SRC/tests/apps/mkpe.py" "$W/app.exe" || fail "mkpe.py"
osslsigncode verify -in "$W/app.exe" >/dev/null 2>&1 && fail "the unsigned PE verifies"

for v in rsa:sha256:file ec:sha384:token; do
	IFS=: read -r k h src <<<"$v"
	step "osslsigncode sign with the $k key ($h, certificate from the $src)"
	certopt=(-certs "$W/$k.pem")
	[ "$src" = token ] && certopt=(-pkcs11cert "$(apps_uri "$k" cert)")
	rm -f "$W/$k.exe"
	out=$(timeout -k 5 60 osslsigncode sign -pkcs11engine "$ENGINE" -pkcs11module "$MOD" \
		"${certopt[@]}" -key "$(apps_uri "$k" private)" -pass "$APPS_PIN" -h "$h" \
		-n "CISRES test" -i "https://cisres.example/" -in "$W/app.exe" -out "$W/$k.exe" 2>&1) ||
		fail "osslsigncode sign $k: $out"
	assert_contains "$out" "Succeeded" "osslsigncode sign $k"

	step "osslsigncode verify, authenticode.py and openssl pkcs7 accept the $k signature"
	out=$(osslsigncode verify -CAfile "$W/chain.pem" -in "$W/$k.exe" 2>&1) ||
		fail "osslsigncode verify $k: $out"
	assert_contains "$out" "Signature verification: ok" "osslsigncode verify $k"
	assert_contains "$out" "Number of verified signatures: 1" "osslsigncode verify $k"
	out=$("$PY" "$CISRES_SRC/tests/apps/authenticode.py" "$W/$k.exe" "$W/$k.pem" "$W/$k.p7" 2>&1) ||
		fail "independent Authenticode check of $k: $out"
	assert_contains "$out" "authenticode: OK ($h," "independent check $k"
	OPENSSL_CONF=/dev/null openssl pkcs7 -inform DER -in "$W/$k.p7" -print_certs \
		-out "$W/$k.p7.certs" || fail "openssl pkcs7 cannot read the $k signature"
	apps_same_cert "$W/$k.p7.certs" "$W/$k.pem" ||
		fail "the first certificate in the $k signature is not the token's"
	osslsigncode extract-signature -in "$W/$k.exe" -out "$W/$k.extracted.p7" >/dev/null 2>&1 ||
		fail "osslsigncode extract-signature $k"
	cmp -s "$W/$k.p7" "$W/$k.extracted.p7" || fail "extracted signatures differ ($k)"
done

step "a patched signed PE fails both checks"
cp "$W/rsa.exe" "$W/patched.exe"
printf '\x90' | dd of="$W/patched.exe" bs=1 seek=$((0x201)) conv=notrunc 2>/dev/null
osslsigncode verify -CAfile "$W/chain.pem" -in "$W/patched.exe" >/dev/null 2>&1 &&
	fail "osslsigncode verify accepted a patched PE"
"$PY" "$CISRES_SRC/tests/apps/authenticode.py" "$W/patched.exe" "$W/rsa.pem" >/dev/null 2>&1 &&
	fail "authenticode.py accepted a patched PE"
true
