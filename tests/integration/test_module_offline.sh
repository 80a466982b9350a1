#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module offline and across a server restart, through
# pkcs11-tool (each call a new process): after one contact the module has
# cached the account, so with the server stopped pkcs11-tool -L/-O still
# show the token and its certificates (from $XDG_CACHE_HOME/cisres); signing
# fails cleanly while the server is down; after the server restarts on the
# same state directory and port, signing works again without touching
# anything on the workstation. Signatures are verified with OpenSSL.
. "$(dirname "$0")/lib.sh"

for t in pkcs11-tool oathtool openssl; do
	command -v "$t" >/dev/null || fail "$t is required"
done
CISRES=$CISRES_BUILD/cisres
M=$CISRES_BUILD/cisres-pkcs11.so
[ -x "$CISRES" ] || fail "no cisres in $CISRES_BUILD"
[ -f "$M" ] || fail "no cisres-pkcs11.so in $CISRES_BUILD"
cisres_start_server
W=$CISRES_TMP/work
mkdir -p "$W"

export XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache HOME=$W/home
unset CISRES_PKCS11_CONF CISRES_DEBUG
mkdir -p "$HOME"
CONF=$XDG_CONFIG_HOME/cisres/pkcs11.conf
CACHE=$XDG_CACHE_HOME/cisres/alice.json
PORT=${CISRES_BASE##*:}

p11() { pkcs11-tool --module "$M" "$@"; }

stop_server() {
	kill -TERM "$CISRES_SERVER_PID" 2>/dev/null || true
	wait "$CISRES_SERVER_PID" 2>/dev/null || true
	CISRES_SERVER_PID=
	if curl -s --max-time 2 --cacert "$CISRES_CA" "$CISRES_BASE/health" >/dev/null 2>&1; then
		fail "the server still answers after stopping it"
	fi
}

restart_server() {
	"$CISRES_BUILD/cisresd" --state-dir "$CISRES_STATE" --listen "127.0.0.1:$PORT" \
		--foreground >>"$CISRES_TMP/server.out" 2>>"$CISRES_TMP/server.log" &
	CISRES_SERVER_PID=$!
	for _ in $(seq 1 200); do
		kill -0 "$CISRES_SERVER_PID" 2>/dev/null || fail "cisresd did not restart"
		if [ "$(curl -s --cacert "$CISRES_CA" "$CISRES_BASE/health" 2>/dev/null)" = ok ]; then
			return 0
		fi
		sleep 0.1
	done
	fail "cisresd does not answer /health after the restart"
}

# sign_verify ID MECH DGST PIN: sign $W/data through the module, verify it.
sign_verify() {
	local id=$1 mech=$2 dgst=$3 pin=$4 out
	rm -f "$W/sig"
	out=$(p11 --sign -m "$mech" --login --pin "$pin" --id "$id" -i "$W/data" -o "$W/sig" \
		--signature-format openssl 2>&1) || fail "signing with $id ($mech) failed: $out"
	p11 --read-object --type cert --id "$id" -o "$W/cert.der" >/dev/null 2>&1 ||
		fail "cannot read the certificate $id"
	openssl x509 -inform DER -in "$W/cert.der" -pubkey -noout >"$W/pub.pem"
	openssl dgst "-$dgst" -verify "$W/pub.pem" -signature "$W/sig" "$W/data" >/dev/null ||
		fail "the signature with $id does not verify"
}

# key_id KIND: the CKA_ID of the first public key of that kind ("EC", "RSA").
key_id() {
	p11 -O --type pubkey 2>/dev/null | awk -v k="Public Key Object; $1" \
		'index($0, k) == 1 { f = 1 } f && /ID:/ { print $2; exit }'
}

step "enroll alice: an e-seal-like SCAL1 PIN key and a SCAL2 PIN+OTP key"
ALICE_PW='alice-Pw-1234'
ALICE_OTP=$(enroll_user alice "$ALICE_PW")
EC1=$(enroll_cred alice 123456 --key ec-p256 --scal 1 --auth pin --multisign 5)
RSA2=$(enroll_cred alice 123456 --key rsa-2048 --scal 2 --auth pin+otp)
note "credentials $EC1 (SCAL1) $RSA2 (SCAL2)"

step "cisres login; the module gets the OTP from oathtool (otp_command)"
PW=$ALICE_PW "$CISRES" login --server "$CISRES_BASE" --user alice --ca-file "$CISRES_CA" \
	--password-env PW </dev/null >/dev/null || fail "cisres login"
printf 'otp_command = oathtool --totp -b %s\n' "$ALICE_OTP" >>"$CONF"
printf 'signed by the module\n' >"$W/data"

step "first use: the token and its objects appear (no cache yet)"
[ ! -e "$CACHE" ] || fail "a cache exists before the first use"
out=$(p11 -L 2>&1) || fail "pkcs11-tool -L: $out"
assert_contains "$out" "CISRES alice" "token label"
serial=$(printf '%s\n%s' "$CISRES_BASE" alice | sha256sum | cut -c1-16)
assert_contains "$out" "$serial" "token serial = SHA-256(url \\n user)"
p11 -O >"$W/objects.online" 2>/dev/null || fail "pkcs11-tool -O"
objs=$(cat "$W/objects.online")
assert_eq "$(grep -c '^Certificate Object' "$W/objects.online")" 4 \
	"2 signer certificates + issuing CA + root CA"
assert_contains "$objs" "Public Key Object; EC" "EC public key"
assert_contains "$objs" "Public Key Object; RSA" "RSA public key"
[ -f "$CACHE" ] || fail "the module wrote no cache ($CACHE)"
assert_eq "$(stat -c %a "$CACHE")" 600 "cache file mode"
assert_not_contains "$(cat "$CACHE")" "$(head -n1 "$XDG_CONFIG_HOME/cisres/tokens/alice.token")" \
	"refresh token in the cache"
EC_ID=$(key_id EC)
RSA_ID=$(key_id RSA)
if [ -z "$EC_ID" ] || [ -z "$RSA_ID" ]; then fail "no key IDs in: $objs"; fi

step "signing online: SCAL1 (PIN) and SCAL2 (PIN + OTP from otp_command)"
sign_verify "$EC_ID" ECDSA-SHA256 sha256 123456
totp_settle 5
sign_verify "$RSA_ID" SHA256-RSA-PKCS sha256 123456

step "wrong PIN: CKR_PIN_INCORRECT"
out=$(p11 --sign -m ECDSA-SHA256 --login --pin 999999 --id "$EC_ID" -i "$W/data" \
	-o "$W/sig" 2>&1) && fail "a wrong PIN signed"
assert_contains "$out" "CKR_PIN_INCORRECT" "wrong PIN"

# A long-lived application (tests/unit/test_backend_restart.c, driven
# through files in $SYNC) lives through the stop and the restart.
DRIVER=$CISRES_BUILD/tests/test_backend_restart
SYNC=$W/sync
DRIVER_PID=
mkdir -p "$SYNC"
# shellcheck disable=SC2154 # _rc is set inside the trap
trap '_rc=$?; [ -n "$DRIVER_PID" ] && kill "$DRIVER_PID" 2>/dev/null; set +e; (exit $_rc); cisres_cleanup' EXIT
wait_sync() { # FILE
	for _ in $(seq 1 600); do
		[ -e "$SYNC/$1" ] && return 0
		kill -0 "$DRIVER_PID" 2>/dev/null || fail "the long-lived driver died: $(cat "$W/driver.log")"
		sleep 0.1
	done
	fail "the long-lived driver did not reach '$1': $(cat "$W/driver.log")"
}
if [ -x "$DRIVER" ]; then
	step "a long-lived PKCS#11 application logs in and signs"
	CISRES_P11_MODULE=$M CISRES_TEST_PIN=123456 CISRES_TEST_SYNC=$SYNC "$DRIVER" \
		>"$W/driver.log" 2>&1 &
	DRIVER_PID=$!
	wait_sync ready
else
	note "no $DRIVER: the same-process restart check is skipped"
fi

step "stop the server"
stop_server
if [ -n "$DRIVER_PID" ]; then
	step "the long-lived application: token info and objects answer, signing fails"
	touch "$SYNC/down"
	wait_sync checked
fi

step "offline: pkcs11-tool -L and -O still show the token and certificates (cache)"
start=$(date +%s)
out=$(p11 -L 2>&1) || fail "pkcs11-tool -L offline: $out"
assert_contains "$out" "CISRES alice" "token offline"
p11 -O >"$W/objects.offline" 2>/dev/null || fail "pkcs11-tool -O offline"
diff <(grep -v '^ *\(EC_POINT\|Access\)' "$W/objects.online") \
	<(grep -v '^ *\(EC_POINT\|Access\)' "$W/objects.offline") >/dev/null ||
	fail "offline objects differ: $(diff "$W/objects.online" "$W/objects.offline")"
p11 --read-object --type cert --id "$EC_ID" -o "$W/offline.der" >/dev/null 2>&1 ||
	fail "cannot read a certificate offline"
openssl x509 -inform DER -in "$W/offline.der" -noout -subject | grep -q "Test Alice" ||
	fail "offline certificate is not alice's"
[ $(($(date +%s) - start)) -lt 15 ] || fail "offline listing took too long"

step "offline: signing fails with an error, quickly"
start=$(date +%s)
out=$(p11 --sign -m ECDSA-SHA256 --login --pin 123456 --id "$EC_ID" -i "$W/data" \
	-o "$W/sig" 2>&1) && fail "signed while the server is down"
assert_contains "$out" "CKR_DEVICE_ERROR" "service unreachable"
assert_not_contains "$out" "CKR_PIN_INCORRECT" "offline is not a wrong PIN"
[ $(($(date +%s) - start)) -lt 20 ] || fail "offline signing took too long to fail"

step "restart the server on the same state directory and port"
restart_server

if [ -n "$DRIVER_PID" ]; then
	step "the long-lived application signs again in the same session"
	touch "$SYNC/up"
	wait "$DRIVER_PID" || fail "the long-lived driver failed: $(cat "$W/driver.log")"
	DRIVER_PID=
	[ -e "$SYNC/done" ] || fail "the long-lived driver did not finish: $(cat "$W/driver.log")"
fi

step "signing works again without any change on the workstation"
sign_verify "$EC_ID" ECDSA-SHA256 sha256 123456
sign_verify "$EC_ID" ECDSA-SHA384 sha384 123456
p11 -O >"$W/objects.again" 2>/dev/null || fail "pkcs11-tool -O after the restart"
assert_eq "$(grep -c '^Certificate Object' "$W/objects.again")" 4 "objects after the restart"

step "a credential disabled at the service is reported as not permitted after a refresh"
admin credential disable "$EC1" >/dev/null || fail "cisres-admin credential disable"
# The first process refreshes the cache in the background; the next sees it.
p11 -O >/dev/null 2>&1 || true
sleep 1
out=$(p11 --sign -m ECDSA-SHA256 --login --pin 123456 --id "$EC_ID" -i "$W/data" \
	-o "$W/sig" 2>&1) && fail "signed with a disabled credential"
assert_contains "$out" "CKR_KEY_FUNCTION_NOT_PERMITTED" "disabled credential error"

step "module_prompt: PIN and OTP from a pinentry-protocol prompt program, no C_Login"
cat >"$W/pinentry" <<PINENTRY
#!/bin/bash
# A pinentry stand-in: answers "PIN:" with the PIN and "OTP:" with the TOTP
# code of the next step; cancels when \$CANCEL exists.
echo "OK fake pinentry ready"
prompt=
while IFS= read -r line; do
	echo "\$line" | cut -c1-9 >>"$W/pinentry.log"
	case "\$line" in
	SETPROMPT\ *) prompt=\${line#SETPROMPT }; echo OK ;;
	GETPIN)
		if [ -e "$W/cancel" ]; then
			echo "ERR 83886179 Operation cancelled <Pinentry>"
			continue
		fi
		case "\$prompt" in
		PIN:) echo "D 123456" ;;
		OTP:) echo "D \$(oathtool --totp -b $ALICE_OTP -N @\$((\$(date +%s) + 30)))" ;;
		esac
		echo OK ;;
	BYE) echo "OK closing connection"; exit 0 ;;
	*) echo OK ;;
	esac
done
PINENTRY
chmod 700 "$W/pinentry"
cat >>"$CONF" <<CONFEOF

[account alice-prompt]
url = $CISRES_BASE
user = alice
ca_file = $CISRES_CA
label = CISRES prompt
token_file = $XDG_CONFIG_HOME/cisres/tokens/alice.token
module_prompt = true
prompt = $W/pinentry
CONFEOF
pp() { p11 --token-label "CISRES prompt" "$@"; }
out=$(pp --sign -m SHA256-RSA-PKCS --id "$RSA_ID" -i "$W/data" -o "$W/sig" 2>&1) ||
	fail "signing with module prompting failed: $out"
openssl dgst -sha256 -verify <(p11 --read-object --type cert --id "$RSA_ID" 2>/dev/null |
	openssl x509 -inform DER -pubkey -noout) -signature "$W/sig" "$W/data" >/dev/null ||
	fail "the module-prompted signature does not verify"
log=$(cat "$W/pinentry.log")
assert_contains "$log" "SETTITLE" "pinentry title"
assert_contains "$log" "SETDESC" "pinentry description"
assert_contains "$log" "GETPIN" "pinentry GETPIN"
assert_eq "$(grep -c GETPIN "$W/pinentry.log")" 2 "asked for the PIN and the OTP"

step "module_prompt: cancelling the prompt gives CKR_FUNCTION_CANCELED"
touch "$W/cancel"
out=$(pp --sign -m SHA256-RSA-PKCS --id "$RSA_ID" -i "$W/data" -o "$W/sig" 2>&1) &&
	fail "signed although the prompt was cancelled"
assert_contains "$out" "CKR_FUNCTION_CANCELED" "cancelled prompt"

step "a configuration writable by others is refused: no slot"
rm -f "$W/cancel"
chmod 662 "$CONF"
out=$(p11 -L 2>&1) || true
assert_contains "$out" "writable by group or others" "refusal logged"
assert_not_contains "$out" "CISRES alice" "no token from a refused configuration"
chmod 600 "$CONF"
out=$(p11 -L 2>&1) || fail "pkcs11-tool -L after chmod 600: $out"
assert_contains "$out" "CISRES alice" "token back"
