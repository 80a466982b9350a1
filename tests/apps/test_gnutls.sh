#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GnuTLS through p11-kit: the module is registered with a p11-kit user
# configuration ($XDG_CONFIG_HOME/pkcs11/modules/cisres.module) and found
# without naming the library: p11-kit list-modules shows it and its token,
# p11tool --list-all lists the objects, p11tool --test-sign signs and
# verifies with both keys, certtool --generate-request makes a CSR with the
# token key (openssl req -verify checks it), gnutls-cli does TLS 1.3 client
# authentication (RSA-PSS and ECDSA) against openssl s_server -Verify 1.
#
# p11-kit reads no user configuration for root (uid 0), so as root the
# GnuTLS tools run as "nobody" (setpriv) with this test's private home.
. "$(dirname "$0")/apps_lib.sh"

apps_require p11-kit p11tool certtool gnutls-cli
apps_start

# The module, its configuration, refresh token, cache and the service CA
# where an unprivileged user can read them.
if [ "$(id -u)" = 0 ]; then
	apps_require setpriv
	RUN_UID=$(id -u nobody) || fail "no user nobody"
	RUN_GID=$(id -g nobody)
	as_user() {
		setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --clear-groups \
			env HOME="$HOME" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" \
			XDG_CACHE_HOME="$XDG_CACHE_HOME" "$@"
	}
else
	RUN_UID=$(id -u)
	RUN_GID=$(id -g)
	as_user() { "$@"; }
fi
install -m 644 "$MOD" "$W/cisres-pkcs11.so"
install -m 644 "$CISRES_CA" "$W/service-ca.pem"
sed -i "s#^ca_file = .*#ca_file = $W/service-ca.pem#" "$CONF"
mkdir -p "$XDG_CONFIG_HOME/pkcs11/modules" "$XDG_CACHE_HOME" "$W/out"
printf '# CISRES remote signature token (user registration)\nmodule: %s\ncritical: no\n' \
	"$W/cisres-pkcs11.so" >"$XDG_CONFIG_HOME/pkcs11/modules/cisres.module"
chmod 711 "$CISRES_TMP" "$W"
chown -R "$RUN_UID:$RUN_GID" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$HOME" "$W/out"
chmod 755 "$XDG_CONFIG_HOME" "$XDG_CONFIG_HOME/pkcs11" "$XDG_CONFIG_HOME/pkcs11/modules"
TOKEN="pkcs11:token=CISRES%20alice"

step "p11-kit list-modules shows the user-registered module and its token"
out=$(as_user p11-kit list-modules 2>&1) || fail "p11-kit list-modules: $out"
assert_contains "$out" "cisres: $W/cisres-pkcs11.so" "module registration"
mod=$(sed -n '/^cisres: /,/^[^ ]/p' <<<"$out")
assert_contains "$mod" "library-manufacturer: CISRES" "module info"
assert_contains "$mod" "token: CISRES alice" "token label"
assert_contains "$mod" "serial-number: $(printf '%s\n%s' "$CISRES_BASE" alice | sha256sum | cut -c1-16)" \
	"token serial"

step "p11tool --list-all: certificate and public key of both credentials, the CA certificates"
out=$(as_user p11tool --list-all "$TOKEN" 2>&1) || fail "p11tool --list-all: $out"
for k in ec rsa; do
	id=$(sed 's/../&:/g; s/:$//' "$W/$k.id")
	assert_eq "$(grep -c "ID: $id\$" <<<"$out")" 2 "cert + public key with the $k CKA_ID"
done
assert_contains "$out" "Type: X.509 Certificate (EC/ECDSA-SECP256R1)" "EC certificate"
assert_contains "$out" "Type: X.509 Certificate (RSA-2048)" "RSA certificate"
assert_contains "$out" "Label: CISRES Demo Issuing CA" "issuing CA"
out=$(as_user env GNUTLS_PIN="$APPS_PIN" p11tool --login --list-privkeys "$TOKEN" 2>&1) ||
	fail "p11tool --list-privkeys: $out"
assert_eq "$(grep -c 'Type: Private key' <<<"$out")" 2 "private keys after login"

for k in ec rsa; do
	step "p11tool --test-sign with the $k key"
	out=$(as_user env GNUTLS_PIN="$APPS_PIN" p11tool --login --test-sign \
		"$(apps_uri "$k" private)" 2>&1) || fail "p11tool --test-sign $k: $out"
	assert_contains "$out" "Verifying against public key in the token... ok" "test-sign $k"
done

printf 'cn = "Test Alice"\norganization = "CISRES Demo"\nsigning_key\n' >"$W/csr.tmpl"
chmod 644 "$W/csr.tmpl"
for k in ec rsa; do
	step "certtool --generate-request with the $k token key; openssl req -verify"
	out=$(as_user env GNUTLS_PIN="$APPS_PIN" certtool --generate-request \
		--load-privkey "$(apps_uri "$k" private)" --template "$W/csr.tmpl" \
		--outfile "$W/out/$k.csr" 2>&1) || fail "certtool --generate-request $k: $out"
	out=$(OPENSSL_CONF=/dev/null openssl req -verify -in "$W/out/$k.csr" -noout -subject 2>&1) ||
		fail "openssl req -verify $k: $out"
	assert_contains "$out" "verify OK" "CSR self-signature"
	assert_contains "$out" "CN = Test Alice" "CSR subject"
	cmp -s <(OPENSSL_CONF=/dev/null openssl req -in "$W/out/$k.csr" -noout -pubkey) \
		"$W/$k.pub.pem" || fail "the $k CSR is not for the token's key"
done

apps_tls_init
for v in rsa:rsa_pss_rsae_sha256 ec:ecdsa_secp256r1_sha256; do
	k=${v%%:*}
	step "gnutls-cli TLS 1.3 client authentication with the $k key (${v#*:})"
	apps_tls_start "$W/srv-$k.log"
	printf 'GET / HTTP/1.0\r\n\r\n' | as_user env GNUTLS_PIN="$APPS_PIN" \
		timeout -k 5 60 gnutls-cli -p "$PORT" 127.0.0.1 --x509cafile "$W/srv.pem" \
		--x509certfile "$(apps_uri "$k" cert)" --x509keyfile "$(apps_uri "$k" private)" \
		--priority NORMAL:-VERS-ALL:+VERS-TLS1.3 >"$W/cli-$k.log" 2>&1 ||
		fail "gnutls-cli $k: $(tail -n 20 "$W/cli-$k.log")"
	assert_contains "$(cat "$W/cli-$k.log")" "- Description: (TLS1.3-X.509)" "TLS 1.3"
	apps_tls_check_page "$W/cli-$k.log" "$k"
	apps_tls_check "$W/srv-$k.log" "${v#*:}"
done
