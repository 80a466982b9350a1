#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OpenSSL 3 through the module: the pkcs11-provider (openssl.cnf with a
# provider section, pkcs11-module-path, pkcs11-module-token-pin file:) for
# openssl storeutl, dgst -sign, cms -sign (PKCS#1 v1.5, PSS, ECDSA) and TLS
# client authentication with s_client against s_server -Verify 1 (TLS 1.3
# with RSA-PSS and ECDSA, TLS 1.2 with RSA PKCS#1 v1.5 and ECDSA); the libp11
# engine (openssl dgst -engine pkcs11 -keyform engine); curl with a client
# certificate and key from the token (OpenSSL backend, through the engine).
# Signatures are verified by OpenSSL without the token (OPENSSL_CONF=/dev/null),
# TLS by the server's own chain verification and its handshake trace.
. "$(dirname "$0")/apps_lib.sh"

apps_require curl
PROVIDER=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')/pkcs11.so
ENGINE=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')/pkcs11.so
[ -f "$PROVIDER" ] || fail "no pkcs11-provider ($PROVIDER): install pkcs11-provider"
[ -f "$ENGINE" ] || fail "no libp11 engine ($ENGINE): install libengine-pkcs11-openssl"
apps_start

printf '%s\n' "$APPS_PIN" >"$W/pin.txt"
chmod 600 "$W/pin.txt"
printf 'Signed through OpenSSL and CISRES.\n' >"$W/doc.txt"
cat >"$W/provider.cnf" <<EOF
HOME = .
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $PROVIDER
pkcs11-module-path = $MOD
pkcs11-module-token-pin = file:$W/pin.txt
activate = 1
EOF
cat >"$W/engine.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MOD
init = 0
EOF
# A hung call fails the test (a deadlock between the application's OpenSSL
# and the module's own use of OpenSSL was seen: docs/apps/openssl.md).
hang_guard() { # WHAT COMMAND...
	local what=$1 rc=0
	shift
	timeout -k 5 30 "$@" || rc=$?
	[ "$rc" = 124 ] && printf '%s\n' "HUNG: $what did not finish within 30 s" >&2
	return "$rc"
}
prov() { hang_guard "openssl $1 (pkcs11-provider)" env OPENSSL_CONF="$W/provider.cnf" openssl "$@"; }
eng() { hang_guard "openssl $1 (libp11 engine)" env OPENSSL_CONF="$W/engine.cnf" openssl "$@"; }
plain() { OPENSSL_CONF=/dev/null openssl "$@"; }
key() { apps_uri "$1" private; }

step "pkcs11-provider: openssl storeutl lists the private keys"
out=$(prov storeutl -keys -text pkcs11: 2>&1) || fail "storeutl: $out"
assert_contains "$out" "Total found: 2" "private keys found"
assert_contains "$out" "PKCS11 EC Private Key (256 bits)" "EC key"
assert_contains "$out" "PKCS11 RSA Private Key (2048 bits)" "RSA key"
for k in ec rsa; do
	assert_contains "$out" "id=$(apps_uri_id "$k" | tr 'a-f' 'A-F')" "URI of the $k key"
done

for k in ec rsa; do
	step "pkcs11-provider: openssl dgst -sha256/-sha384 -sign with the $k key"
	for h in sha256 sha384; do
		rm -f "$W/$k.$h.sig"
		out=$(prov dgst "-$h" -sign "$(key "$k")" -out "$W/$k.$h.sig" "$W/doc.txt" 2>&1) ||
			fail "dgst -sign $k $h: $out"
		plain dgst "-$h" -verify "$W/$k.pub.pem" -signature "$W/$k.$h.sig" "$W/doc.txt" \
			>/dev/null || fail "the $k $h signature does not verify"
	done
done

step "pkcs11-provider: RSA-PSS with openssl dgst -sigopt"
out=$(prov dgst -sha256 -sign "$(key rsa)" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -out "$W/pss.sig" "$W/doc.txt" 2>&1) || fail "dgst PSS: $out"
plain dgst -sha256 -verify "$W/rsa.pub.pem" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -signature "$W/pss.sig" "$W/doc.txt" >/dev/null ||
	fail "the PSS signature does not verify"
plain dgst -sha256 -verify "$W/rsa.pub.pem" -signature "$W/pss.sig" "$W/doc.txt" \
	>/dev/null 2>&1 && fail "a PSS signature verified as PKCS#1 v1.5"

for v in ec: rsa: rsa:pss; do
	k=${v%%:*}
	step "pkcs11-provider: openssl cms -sign -cades with the $k key ${v#*:}"
	opts=()
	[ "${v#*:}" = pss ] && opts=(-keyopt rsa_padding_mode:pss)
	out=$(prov cms -sign -binary -in "$W/doc.txt" -signer "$W/$k.pem" -inkey "$(key "$k")" \
		-md sha256 -cades "${opts[@]}" -outform DER -out "$W/$v.p7s" 2>&1) ||
		fail "cms -sign $v: $out"
	apps_verify_cms "$W/$v.p7s" "$W/doc.txt" "$W/$k.pem"
	if [ "${v#*:}" = pss ]; then
		assert_contains "$(plain cms -cmsout -print -inform DER -in "$W/$v.p7s")" \
			"rsassaPss" "PSS in the SignerInfo"
	fi
done

# ---- TLS client authentication ----
apps_tls_init
for v in 1.3:rsa:rsa_pss_rsae_sha256 1.3:ec:ecdsa_secp256r1_sha256 \
	1.2:rsa:rsa_pkcs1_sha256 1.2:ec:ecdsa_secp256r1_sha256; do
	IFS=: read -r proto k alg <<<"$v"
	step "s_client (pkcs11-provider) TLS $proto client auth with the $k key: $alg"
	apps_tls_start "$W/srv-$proto-$k.log"
	opts=("-tls${proto/./_}")
	[ "$proto" = 1.2 ] && [ "$k" = rsa ] && opts+=(-client_sigalgs RSA+SHA256)
	printf 'GET / HTTP/1.0\r\n\r\n' | prov s_client -connect "127.0.0.1:$PORT" \
		-cert "$W/$k.pem" -key "$(key "$k")" -CAfile "$W/srv.pem" -verify_return_error \
		"${opts[@]}" -ign_eof >"$W/cli-$proto-$k.log" 2>&1 ||
		fail "s_client TLS $proto $k: $(tail -n 20 "$W/cli-$proto-$k.log")"
	assert_contains "$(cat "$W/cli-$proto-$k.log")" "Protocol  : TLSv$proto" "protocol"
	apps_tls_check_page "$W/cli-$proto-$k.log" "$k"
	apps_tls_check "$W/srv-$proto-$k.log" "$alg"
done

# ---- libp11 engine ----
for k in ec rsa; do
	step "libp11 engine: openssl dgst -engine pkcs11 -keyform engine -sign, $k key"
	out=$(eng dgst -sha256 -engine pkcs11 -keyform engine \
		-sign "$(key "$k");pin-value=$APPS_PIN" -out "$W/eng-$k.sig" "$W/doc.txt" 2>&1) ||
		fail "engine dgst $k: $out"
	plain dgst -sha256 -verify "$W/$k.pub.pem" -signature "$W/eng-$k.sig" "$W/doc.txt" \
		>/dev/null || fail "the engine's $k signature does not verify"
done

# ---- curl ----
# curl 7.88 (Debian 12) with OpenSSL 3 takes pkcs11: URIs through the
# engine (--engine pkcs11); it has no provider support for keys yet.
for k in ec rsa; do
	step "curl --engine pkcs11 --cert/--key pkcs11: URIs, $k key (TLS 1.3)"
	apps_tls_start "$W/srv-curl-$k.log"
	alg=ecdsa_secp256r1_sha256
	[ "$k" = rsa ] && alg=rsa_pss_rsae_sha256
	OPENSSL_CONF=$W/engine.cnf curl -sS --max-time 30 --engine pkcs11 \
		--cert "$(apps_uri "$k" cert)" --key "$(key "$k");pin-value=$APPS_PIN" \
		--cacert "$W/srv.pem" -o "$W/curl-$k.page" "https://127.0.0.1:$PORT/" \
		2>"$W/curl-$k.err" || fail "curl with the $k key: $(cat "$W/curl-$k.err")"
	apps_tls_check_page "$W/curl-$k.page" "$k"
	apps_tls_check "$W/srv-curl-$k.log" "$alg"
done
