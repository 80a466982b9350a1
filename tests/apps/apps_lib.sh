# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared set-up of the application tests (tests/apps/test_<app>.sh): a real
# cisresd (tests/integration/lib.sh), one signer "alice" with an EC P-256 and
# an RSA-2048 credential (SCAL1, PIN only, a large multisign, for bulk
# signing) and optionally a SCAL2 credential (PIN + OTP per signature), this
# "workstation" logged in with `cisres login` (refresh token and module
# configuration in a private $XDG_CONFIG_HOME), and the certificates the CSC
# API returns, to verify what the applications produce with OpenSSL.
# Source it from a test script:   . "$(dirname "$0")/apps_lib.sh"
# shellcheck source=../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

MOD=$CISRES_BUILD/cisres-pkcs11.so
CISRES=$CISRES_BUILD/cisres
APPS_PW='alice-Pw-1234'
APPS_PIN=123456

# apps_require TOOL...: a missing application is a failure, never a skip.
apps_require() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fail "$t is required (not installed)"
	done
}

apps_require openssl oathtool python3
[ -f "$MOD" ] || fail "no cisres-pkcs11.so in $CISRES_BUILD"
[ -x "$CISRES" ] || fail "no cisres in $CISRES_BUILD"

# apps_start [--scal2 [KEY]]: server (extra cisresd arguments in
# $APPS_SERVER_ARGS), work directory $W, a private home,
# alice enrolled and logged in. Sets EC_CRED, RSA_CRED (and SCAL2_CRED, a
# KEY credential, ec-p256 by default, prefix "q"), OTP_SECRET, CONF; writes
# $W/ec.pem, $W/rsa.pem, $W/q.pem (+ .pub.pem, .id = CKA_ID in hex, .ca1.pem
# issuing CA, .ca2.pem root) and $W/chain.pem (the CA certificates).
# shellcheck disable=SC2120
apps_start() {
	local scal2=0
	SCAL2_KEY=ec-p256
	if [ "${1:-}" = --scal2 ]; then
		scal2=1
		SCAL2_KEY=${2:-ec-p256}
	fi
	# shellcheck disable=SC2119,SC2086
	cisres_start_server ${APPS_SERVER_ARGS:-}
	W=$CISRES_TMP/work
	mkdir -p "$W"
	export W
	export XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache HOME=$W/home
	unset CISRES_PKCS11_CONF CISRES_DEBUG
	mkdir -p "$HOME"
	CONF=$XDG_CONFIG_HOME/cisres/pkcs11.conf
	export CONF
	local what="EC P-256 and RSA-2048 (SCAL1, PIN)"
	[ "$scal2" = 1 ] && what="$what, $SCAL2_KEY (SCAL2, PIN + OTP)"
	step "enroll alice: $what"
	OTP_SECRET=$(enroll_user alice "$APPS_PW")
	EC_CRED=$(enroll_cred alice "$APPS_PIN" --key ec-p256 --scal 1 --auth pin \
		--multisign 1000 --description "EC seal")
	RSA_CRED=$(enroll_cred alice "$APPS_PIN" --key rsa-2048 --scal 1 --auth pin \
		--multisign 1000 --description "RSA seal")
	if [ "$scal2" = 1 ]; then
		SCAL2_CRED=$(enroll_cred alice "$APPS_PIN" --key "$SCAL2_KEY" --scal 2 \
			--auth pin+otp --description "Qualified")
		export SCAL2_CRED
	fi
	export OTP_SECRET EC_CRED RSA_CRED
	apps_cert "$EC_CRED" "$W/ec"
	apps_cert "$RSA_CRED" "$W/rsa"
	[ "$scal2" = 1 ] && apps_cert "$SCAL2_CRED" "$W/q"
	cat "$W/ec.ca1.pem" "$W/ec.ca2.pem" >"$W/chain.pem"
	step "cisres login"
	local out
	out=$(PW=$APPS_PW "$CISRES" login --server "$CISRES_BASE" --user alice \
		--ca-file "$CISRES_CA" --password-env PW 2>&1 </dev/null) ||
		fail "cisres login failed: $out"
	[ -f "$CONF" ] || fail "cisres login wrote no $CONF"
}

# apps_cert CREDENTIAL_ID PREFIX: certificate, public key, CKA_ID and chain
# from the CSC API (credentials/info).
apps_cert() {
	local tok
	tok=$(login alice "$APPS_PW")
	csc credentials/info "{\"credentialID\":\"$1\",\"certificates\":\"chain\"}" "$tok"
	assert_status 200 "credentials/info $1"
	cert_pem_from_b64 "$(jget cert.certificates.0)" "$2.pem"
	cert_pem_from_b64 "$(jget cert.certificates.1)" "$2.ca1.pem"
	cert_pem_from_b64 "$(jget cert.certificates.2)" "$2.ca2.pem"
	openssl x509 -in "$2.pem" -pubkey -noout >"$2.pub.pem"
	openssl pkey -pubin -in "$2.pub.pem" -outform DER | openssl dgst -sha1 -binary |
		od -An -tx1 | tr -d ' \n' >"$2.id"
}

# apps_conf_set ACCOUNT LINE: add "key = value" to [account ACCOUNT].
apps_conf_set() {
	"$PY" - "$CONF" "$1" "$2" <<'PYEOF'
import sys
path, account, line = sys.argv[1:4]
out, inside, done = [], False, False
for l in open(path).read().splitlines():
    s = l.strip()
    if s.startswith("["):
        if inside and not done:
            out.append(line)
            done = True
        inside = s == "[account %s]" % account
    out.append(l)
if inside and not done:
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PYEOF
}

# apps_otp_command: an otp_command printing the TOTP code of the next unused
# 30 s step (the service accepts each step once, within one step of now).
apps_otp_command() {
	local script=$W/otp.sh
	cat >"$script" <<OTPEOF
#!/bin/sh
state=$W/otp.step
now=\$(( \$(date +%s) / 30 ))
last=\$(cat "\$state" 2>/dev/null || echo 0)
step=\$(( last + 1 ))
[ "\$step" -lt \$(( now - 1 )) ] && step=\$(( now - 1 ))
if [ "\$step" -gt \$(( now + 1 )) ]; then
	sleep \$(( (step - 1) * 30 - \$(date +%s) + 1 ))
fi
echo "\$step" >"\$state"
exec oathtool --totp -b "$OTP_SECRET" -N "@\$(( step * 30 ))"
OTPEOF
	chmod 700 "$script"
	printf '%s\n' "$script"
}

# apps_otp_wait N: wait until the otp_command of apps_otp_command can print
# N codes without sleeping (the module gives a command 10 s).
apps_otp_wait() {
	local last now
	last=$(cat "$W/otp.step" 2>/dev/null || echo 0)
	now=$(($(date +%s) / 30))
	if [ $((last + $1)) -gt $((now + 1)) ]; then
		note "waiting for fresh TOTP steps"
		sleep $(((last + $1 - 1) * 30 - $(date +%s) + 1))
	fi
}

# apps_verify_cms SIG.der CONTENT CERT.pem [openssl cms options]: a detached
# CMS/PKCS#7 signature (DER or BER) made by CERT over CONTENT, chain to the
# service's CA certificates ($W/chain.pem: OpenSSL 3.0's cms -verify has no
# -untrusted, so the issuing CA is passed as trusted too), checked by OpenSSL.
apps_verify_cms() {
	local sig=$1 content=$2 cert=$3 out
	shift 3
	rm -f "$W/cms-signer.pem"
	out=$(OPENSSL_CONF=/dev/null openssl cms -verify -binary -inform DER -in "$sig" -content "$content" \
		-CAfile "$W/chain.pem" -purpose any \
		-signer "$W/cms-signer.pem" -out /dev/null "$@" 2>&1) ||
		fail "openssl cms -verify rejects $sig: $out"
	apps_same_cert "$W/cms-signer.pem" "$cert" || fail "$sig is not signed with $(basename "$cert")"
}

# apps_same_cert A.pem B.pem: the same certificate.
apps_same_cert() {
	[ -s "$1" ] && [ -s "$2" ] &&
		cmp -s <(openssl x509 -in "$1" -outform DER) <(openssl x509 -in "$2" -outform DER)
}

# apps_uri_id PREFIX: the CKA_ID of $W/PREFIX.pem, percent-encoded for a
# pkcs11: URI ("%14%32...").
apps_uri_id() { sed 's/../%&/g' "$W/$1.id"; }

# apps_uri PREFIX [TYPE]: a pkcs11: URI of that credential's object.
apps_uri() {
	printf 'pkcs11:token=CISRES%%20alice;id=%s;type=%s' "$(apps_uri_id "$1")" "${2:-cert}"
}

# apps_free_port: a free loopback TCP port.
apps_free_port() { cisres_free_port; }

# apps_wait_log FILE REGEX: wait until FILE has a line matching REGEX.
apps_wait_log() {
	for _ in $(seq 1 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no '$2' in $1: $(tail -n 5 "$1" 2>/dev/null)"
}

# ---- a TLS server that requires a client certificate ----

# apps_tls_init: $W/srv.pem / srv.key (self-signed, IP:127.0.0.1) and an
# EXIT trap that also stops the server.
apps_tls_init() {
	OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$W/srv.key" -out "$W/srv.pem" -subj /CN=127.0.0.1 -days 2 \
		-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
		fail "cannot make the TLS server certificate"
	chmod 644 "$W/srv.pem"
	SRV_PID=
	# shellcheck disable=SC2154
	trap '_rc=$?; [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; set +e; (exit $_rc); cisres_cleanup' EXIT
}

# apps_tls_start LOG [s_server options]: a one-shot openssl s_server -www on
# a free loopback port (sets PORT) that requires a client certificate
# chaining to the service's CA and traces the handshake into LOG.
apps_tls_start() {
	local log=$1
	shift
	PORT=$(apps_free_port)
	OPENSSL_CONF=/dev/null openssl s_server -accept "127.0.0.1:$PORT" -cert "$W/srv.pem" \
		-key "$W/srv.key" -Verify 1 -CAfile "$W/chain.pem" -verify_return_error \
		-naccept 1 -www -trace "$@" >"$log" 2>&1 </dev/null &
	SRV_PID=$!
	# no probe connection: -naccept 1 would spend its one accept on it
	apps_wait_log "$log" '^ACCEPT$'
}

# apps_tls_check LOG SIGALG: wait for the server to finish; it verified the
# token's certificate, and the client's CertificateVerify used SIGALG
# (e.g. rsa_pss_rsae_sha256, ecdsa_secp256r1_sha256, rsa_pkcs1_sha256).
apps_tls_check() {
	for _ in $(seq 1 50); do
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=
	grep -q '^depth=0 O = CISRES Demo, CN = Test Alice' "$1" ||
		fail "the server did not get the token's certificate: $(grep -v '^ ' "$1" | head -20)"
	grep -A1 '^depth=0 O = CISRES Demo, CN = Test Alice' "$1" | grep -q '^verify return:1' ||
		fail "the server did not verify the client certificate"
	# the client's CertificateVerify is the last one in the trace
	assert_eq "$(grep 'Signature Algorithm: ' "$1" | tail -n1 |
		sed 's/.*Signature Algorithm: \([^ ]*\).*/\1/')" "$2" "client CertificateVerify algorithm"
}

# apps_tls_check_page PAGE KEY: the s_server -www page (what the client
# received) shows $W/KEY.pem as the client certificate.
apps_tls_check_page() {
	sed -n '/^Client certificate/,/-----END CERTIFICATE-----/p' "$1" | sed 1d >"$1.cert"
	apps_same_cert "$1.cert" "$W/$2.pem" || fail "the server did not get the $2 certificate"
}
