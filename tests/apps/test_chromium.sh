#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Chromium (headless) TLS client authentication with a token certificate:
# the module is registered in the profile's NSS database ($HOME/.pki/nssdb,
# modutil), the account runs in module_prompt mode (the browser cannot
# script a PIN dialog; the module gets the PIN from pin_command), and the
# certificate is chosen by the AutoSelectCertificateForUrls policy (a
# managed policy file under /etc/chromium/policies/managed, removed at the
# end). openssl s_server -Verify 1 must verify the token's certificate; both
# key types are used: after the first run the credential Chromium chose is
# deleted at the service, so the second run must use the other one.
. "$(dirname "$0")/apps_lib.sh"

apps_require chromium modutil certutil
POLICY_DIR=/etc/chromium/policies/managed
[ "$(id -u)" = 0 ] || fail "writing the managed policy ($POLICY_DIR) needs root"
apps_start

printf '%s\n' "$APPS_PIN" >"$W/pin.txt"
chmod 600 "$W/pin.txt"
apps_conf_set alice "module_prompt = true"
apps_conf_set alice "pin_command = cat $W/pin.txt"
apps_tls_init
POLICY=$POLICY_DIR/cisres-apps-test-$$.json
# the EXIT trap of apps_tls_init, plus removing the policy
trap '_rc=$?; rm -f "$POLICY"; [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; set +e; (exit $_rc); cisres_cleanup' EXIT

step "the module in the profile's NSS database (\$HOME/.pki/nssdb); the test server trusted"
DB=sql:$HOME/.pki/nssdb
mkdir -p "$HOME/.pki/nssdb"
must certutil -N -d "$DB" --empty-password
out=$(modutil -force -dbdir "$DB" -add cisres -libfile "$MOD" -mechanisms FRIENDLY 2>&1) ||
	fail "modutil -add: $out"
must certutil -A -d "$DB" -n "CISRES test TLS server" -t "CT,," -i "$W/srv.pem"
out=$(certutil -L -d "$DB" -h "CISRES alice" 2>&1) || fail "certutil -L: $out"
assert_eq "$(grep -c '^CISRES alice:Test Alice ' <<<"$out")" 2 "token certificates in NSS"
out=$(pkcs11-tool --module "$MOD" -T 2>&1) || fail "pkcs11-tool -T: $out"
assert_not_contains "$out" "login required" "module_prompt: no C_Login needed"

# chromium_get: one headless page load of https://127.0.0.1:$PORT/ with the
# policy auto-selecting a certificate issued by the service's CA.
chromium_get() {
	local rule
	rule=$("$PY" -c 'import json, sys
print(json.dumps({"pattern": "https://127.0.0.1:" + sys.argv[1],
                  "filter": {"ISSUER": {"CN": "CISRES Demo Issuing CA"}}}))' "$PORT")
	"$PY" -c 'import json, sys
print(json.dumps({"AutoSelectCertificateForUrls": [sys.argv[1]]}))' "$rule" >"$POLICY"
	chmod 644 "$POLICY"
	rm -rf "$W/profile"
	timeout -k 5 120 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$W/profile" --dump-dom "https://127.0.0.1:$PORT/" \
		>"$1" 2>"$1.err" || fail "chromium failed: $(grep -v dbus "$1.err" | tail -n 5)"
	rm -f "$POLICY"
}

# which_key PAGE: "ec" or "rsa", the token certificate the server got.
which_key() {
	sed -n '/^Client certificate/,/-----END CERTIFICATE-----/p' "$1" | sed 1d >"$1.cert"
	for k in ec rsa; do
		if apps_same_cert "$1.cert" "$W/$k.pem"; then
			printf '%s\n' "$k"
			return 0
		fi
	done
	fail "the page shows no token certificate: $(head -c 400 "$1"; grep -v dbus "$1.err" | tail -n 3)"
}

USED=
for run in 1 2; do
	step "run $run: headless Chromium, TLS 1.3, certificate auto-selected by policy"
	# Chromium abandons the first connection when asked for a certificate and
	# reconnects with it: the server must accept more than one connection.
	PORT=$(apps_free_port)
	OPENSSL_CONF=/dev/null openssl s_server -accept "127.0.0.1:$PORT" -cert "$W/srv.pem" \
		-key "$W/srv.key" -Verify 1 -CAfile "$W/chain.pem" -verify_return_error -www -trace \
		>"$W/srv-$run.log" 2>&1 </dev/null &
	SRV_PID=$!
	apps_wait_log "$W/srv-$run.log" '^ACCEPT$'
	chromium_get "$W/page-$run.html"
	k=$(which_key "$W/page-$run.html")
	note "Chromium used the $k key"
	[ "$k" != "$USED" ] || fail "Chromium used the deleted $k credential again"
	alg=ecdsa_secp256r1_sha256
	[ "$k" = rsa ] && alg=rsa_pss_rsae_sha256
	apps_tls_check "$W/srv-$run.log" "$alg"
	USED=$k
	if [ "$run" = 1 ]; then
		step "delete the $k credential at the service; the token shows only the other"
		cred=$EC_CRED
		[ "$k" = rsa ] && cred=$RSA_CRED
		admin credential del "$cred" >/dev/null || fail "cisres-admin credential del $cred"
		rm -rf "$XDG_CACHE_HOME/cisres"
		out=$(pkcs11-tool --module "$MOD" -O --type cert 2>&1) || fail "pkcs11-tool -O: $out"
		other=ec
		[ "$k" = ec ] && other=rsa
		assert_contains "$out" "ID:         $(cat "$W/$other.id")" "the other credential"
		assert_not_contains "$out" "ID:         $(cat "$W/$k.id")" "deleted credential gone"
	fi
done
