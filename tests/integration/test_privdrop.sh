#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Privilege drop and confinement of a cisresd started as root with
# --user cisres (--sam-user cisres-sam) on a fresh state directory: from
# /proc, the HTTP and the SAM process run as their users with no
# capabilities, no_new_privs and a seccomp filter; the HTTP user cannot read
# the HSM token directory, the PIN files or the TLS key; then a signer is
# enrolled (cisres-admin as the SAM user) and signs over HTTPS, checked by
# OpenSSL. Skips (77) unless root with both users present (install-deps.sh
# creates them). CISRES_TEST_USER / CISRES_TEST_SAM_USER name other users.
. "$(dirname "$0")/lib.sh"

HTTP_USER=${CISRES_TEST_USER:-cisres}
SAM_USER=${CISRES_TEST_SAM_USER:-cisres-sam}
skip() {
	note "SKIP: $*"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "not root"
getent passwd "$HTTP_USER" >/dev/null || skip "no user $HTTP_USER (scripts/install-deps.sh)"
getent passwd "$SAM_USER" >/dev/null || skip "no user $SAM_USER (scripts/install-deps.sh)"
for t in runuser oathtool; do
	command -v "$t" >/dev/null || fail "$t is required"
done
# The users must be able to run the programs from the build directory.
runuser -u "$SAM_USER" -- test -x "$CISRES_BUILD/cisres-admin" ||
	skip "$CISRES_BUILD is not reachable by $SAM_USER"

HUID=$(id -u "$HTTP_USER")
HGID=$(id -g "$HTTP_USER")
SUID=$(id -u "$SAM_USER")
SGID=$(id -g "$SAM_USER")

# The state directory: its parent must be searchable by the service users
# (the temporary directory of lib.sh is 0700), so it is given explicitly;
# cisresd takes the last --state-dir.
BASE=$(mktemp -d "${TMPDIR:-/tmp}/cisres-privdrop.XXXXXX")
chmod 0755 "$BASE"
# shellcheck disable=SC2317 # called by the EXIT trap
privdrop_cleanup() {
	local rc=$?
	set +e
	(exit "$rc") # cisres_cleanup reads the status from $?
	cisres_cleanup
	rm -rf "$BASE"
	exit "$rc"
}
cisres_start_server --state-dir "$BASE/state" --user "$HTTP_USER" --sam-user "$SAM_USER"
trap privdrop_cleanup EXIT
CISRES_STATE=$BASE/state
export CISRES_STATE
W=$CISRES_TMP/work
mkdir -p "$W"

# cisres-admin runs as the SAM user: keys it generates must be readable by
# the SAM process.
admin() {
	runuser -u "$SAM_USER" -- "$CISRES_BUILD/cisres-admin" --state-dir "$CISRES_STATE" "$@"
}

# status_field PID FIELD: the value of FIELD in /proc/PID/status.
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# child_named PARENT COMM: the child process of PARENT with that name.
child_named() {
	local p
	for p in $(pgrep -P "$1"); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- processes
step "the processes: HTTP as $HTTP_USER, SAM as $SAM_USER, confined"
HTTP_PID=$CISRES_SERVER_PID
MON_PID=$(child_named "$HTTP_PID" cisres-sam-mon) || fail "no SAM monitor under $HTTP_PID"
SAM_PID=""
for _ in $(seq 1 50); do
	SAM_PID=$(child_named "$MON_PID" cisres-sam) && break
	sleep 0.1
done
[ -n "$SAM_PID" ] || fail "no SAM process under the monitor $MON_PID"
note "HTTP $HTTP_PID, monitor $MON_PID, SAM $SAM_PID"

# check_proc PID NAME UID GID: real, effective, saved and fs ids; no
# capabilities; no_new_privs; seccomp filter mode.
check_proc() {
	local pid=$1 name=$2 uid=$3 gid=$4
	assert_eq "$(status_field "$pid" Uid | tr -s '\t ' ' ')" "$uid $uid $uid $uid" "$name Uid"
	assert_eq "$(status_field "$pid" Gid | tr -s '\t ' ' ')" "$gid $gid $gid $gid" "$name Gid"
	assert_ne "$uid" 0 "$name uid"
	assert_eq "$(status_field "$pid" CapEff)" 0000000000000000 "$name CapEff"
	assert_eq "$(status_field "$pid" CapPrm)" 0000000000000000 "$name CapPrm"
	assert_eq "$(status_field "$pid" NoNewPrivs)" 1 "$name NoNewPrivs"
	assert_eq "$(status_field "$pid" Seccomp)" 2 "$name Seccomp (filter)"
}
check_proc "$HTTP_PID" HTTP "$HUID" "$HGID"
check_proc "$SAM_PID" SAM "$SUID" "$SGID"
# the monitor stays root (it starts SAM processes as the SAM user) but is
# filtered and cannot gain privileges
assert_eq "$(status_field "$MON_PID" Seccomp)" 2 "monitor Seccomp (filter)"
assert_eq "$(status_field "$MON_PID" NoNewPrivs)" 1 "monitor NoNewPrivs"
# every thread of the HTTP process carries the filter (TSYNC)
for t in /proc/"$HTTP_PID"/task/*; do
	assert_eq "$(sed -n 's/^Seccomp:[[:space:]]*//p' "$t/status")" 2 "thread $t Seccomp"
done
# the SAM user also belongs to the HTTP user's group (the shared store)
assert_contains " $(status_field "$SAM_PID" Groups) " " $HGID " "SAM supplementary groups"
assert_not_contains " $(status_field "$HTTP_PID" Groups) " " $SGID " "HTTP groups"
# the SAM process is not dumpable: its memory is closed even to its own uid
must_fail runuser -u "$SAM_USER" -- cat "/proc/$SAM_PID/environ" 2>/dev/null

# ---------------------------------------------------------------- files
step "the HTTP user cannot read the token, the PIN files or the TLS key"
S=$CISRES_STATE
for f in "$S/hsm/pin" "$S/hsm/so-pin" "$S/hsm/softhsm2.conf" "$S/tls/server.key"; do
	[ -e "$f" ] || fail "$f missing"
	must_fail runuser -u "$HTTP_USER" -- cat "$f" 2>/dev/null
done
must_fail runuser -u "$HTTP_USER" -- ls "$S/hsm/tokens" 2>/dev/null
must_fail runuser -u "$HTTP_USER" -- ls "$S/hsm" 2>/dev/null
# ... and cannot move them away (sticky state directory owned by root)
must_fail runuser -u "$HTTP_USER" -- mv "$S/hsm" "$S/hsm.x" 2>/dev/null
# ... but reads and writes the store, as the SAM user does
runuser -u "$HTTP_USER" -- test -r "$S/cisres.db" -a -w "$S/cisres.db" ||
	fail "$HTTP_USER cannot use the store"
runuser -u "$SAM_USER" -- test -r "$S/cisres.db" -a -w "$S/cisres.db" ||
	fail "$SAM_USER cannot use the store"
runuser -u "$SAM_USER" -- cat "$S/hsm/pin" >/dev/null || fail "$SAM_USER cannot read the PIN"
assert_eq "$(stat -c '%U %a' "$S/hsm/pin")" "$SAM_USER 600" "PIN file owner and mode"
assert_eq "$(stat -c '%U %G %a' "$S")" "root $HTTP_USER 3770" "state directory"

# ---------------------------------------------------------------- sign
step "enroll a signer (cisres-admin as $SAM_USER) and sign over HTTPS"
OTP=$(enroll_user alice alice-pw-1)
EC=$(enroll_cred alice 246810 --key ec-p256 --scal 1 --auth pin+otp)
RSA=$(enroll_cred alice 135791 --key rsa-2048 --scal 1 --auth pin)
# nothing in the token directory belongs to root
[ -z "$(find "$S/hsm" ! -user "$SAM_USER" -print -quit)" ] ||
	fail "files in $S/hsm not owned by $SAM_USER: $(find "$S/hsm" ! -user "$SAM_USER" | head -3)"
TOK=$(login alice alice-pw-1)
head -c 5000 /dev/urandom >"$W/data"
openssl dgst -sha256 -binary "$W/data" >"$W/data.dg"

# sign_check CRED AUTHDATA SIGNALGO [openssl pkeyutl options]
sign_check() {
	local cred=$1 authdata=$2 algo=$3 sad
	shift 3
	csc credentials/authorize "{\"credentialID\":\"$cred\",\"numSignatures\":1,\"authData\":$authdata}" "$TOK"
	assert_status 200 "authorize $cred"
	sad=$(jget SAD)
	csc signatures/signHash "{\"credentialID\":\"$cred\",\"SAD\":\"$sad\",\"hashes\":[\"$(b64 "$W/data.dg")\"],\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"signAlgo\":\"$algo\"}" "$TOK"
	assert_status 200 "signHash $cred"
	jget signatures.0 | unb64 >"$W/$cred.sig"
	csc credentials/info "{\"credentialID\":\"$cred\",\"certificates\":\"chain\"}" "$TOK"
	assert_status 200 "credentials/info $cred"
	cert_pem_from_b64 "$(jget cert.certificates.0)" "$W/$cred.pem"
	openssl verify -CAfile "$CISRES_CA" "$W/$cred.pem" >/dev/null ||
		fail "openssl verify of the certificate of $cred"
	openssl pkeyutl -verify -certin -inkey "$W/$cred.pem" -in "$W/data.dg" \
		-sigfile "$W/$cred.sig" "$@" >/dev/null || fail "openssl: bad signature from $cred"
}
totp_settle 5
sign_check "$EC" "[{\"id\":\"PIN\",\"value\":\"246810\"},{\"id\":\"OTP\",\"value\":\"$(totp "$OTP")\"}]" \
	1.2.840.10045.4.3.2
sign_check "$RSA" '[{"id":"PIN","value":"135791"}]' 1.2.840.113549.1.1.11 \
	-pkeyopt digest:sha256

step "still confined after serving (no process became root)"
check_proc "$HTTP_PID" HTTP "$HUID" "$HGID"
SAM_NOW=$(child_named "$MON_PID" cisres-sam) || fail "SAM process gone"
assert_eq "$SAM_NOW" "$SAM_PID" "the SAM process did not restart"
check_proc "$SAM_PID" SAM "$SUID" "$SGID"
grep -q "system call filter is not installed" "$CISRES_TMP/server.log" &&
	fail "a seccomp filter was not installed"
exit 0
