#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Security requirements of standards.md §7 against a real cisresd over HTTPS
# (the SAM-interface tests are in tests/unit/test_sam_security.c):
#   T10/T11 the server's own SoftHSM token, read with pkcs11-tool: without
#           the PIN no private key is visible; with it, every private key
#           is "Usage: sign" only, sensitive and never extractable
#   T15     cisres-admin has no command to authorize or sign, and nothing it
#           prints holds a password, PIN, TOTP seed or verifier
#   T16     a scripted scenario (login x2 failed, login, authorize, sign x3,
#           lock, unlock, key delete) leaves exactly one audit record per
#           step, with UTC time, actor, credential, hashes and outcome
#   T18     known secrets (passwords, PINs, OTP, TOTP seed, access and
#           refresh tokens, SADs) appear in no file of the state directory
#           (outside the SoftHSM token) nor in the server's output, in raw,
#           Base64 or hex form; no process of cisresd can dump core, and a
#           SIGSEGV leaves no core file.
. "$(dirname "$0")/lib.sh"

for tool in pkcs11-tool oathtool; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MODULE" ] || fail "no SoftHSM module at $MODULE"

# Let cisresd inherit an unlimited core size (when the hard limit allows):
# "Max core file size 0" seen later is then the server's own doing.
ulimit -S -c unlimited 2>/dev/null || true
SHELL_CORE_LIMIT=$(ulimit -S -c)

cisres_start_server
W=$CISRES_TMP/work
mkdir -p "$W"
START_US=$(($(date +%s) * 1000000 - 1000000))

OID_SHA256=2.16.840.1.101.3.4.2.1
OID_ES256=1.2.840.10045.4.3.2
OID_RSA_SHA256=1.2.840.113549.1.1.11

# ---- known secrets ----
PW='T18-pass-Qx7rW2vZ'
PIN_SCAL2='T18-pin2-8Kd3mZ'
PIN_SCAL1='T18-pin1-Hq5nBv'
WRONG_PIN='T18-wrong-Zp4Lx'
WRONG_PW1='T18-badpw-1-Mn8q'
WRONG_PW2='T18-badpw-2-Rt5w'
NEW_PIN='T18-newpin-Wd6Yc'

# hex of a Base64 value
b64hex() { printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n'; }

# ---- the audit log through cisres-admin ----
audit_head() {
	admin audit verify | sed -n 's/^audit: \([0-9]*\) records, chain intact$/\1/p'
}
# expect_audit WHAT MARK_VAR [ACTOR|ACTION|OBJECT|OUTCOME|NEEDLE...]...: the
# records after $MARK_VAR are exactly these (in order); each needle (';'
# separated) must be in the detail; time in UTC between START_US and now.
# MARK_VAR moves past them.
expect_audit() {
	local what=$1 var=$2 from
	shift 2
	from=$((${!var} + 1))
	admin audit show --json --from "$from" >"$W/audit.json" ||
		fail "$what: cisres-admin audit show --from $from"
	"$PY" - "$W/audit.json" "$from" "$START_US" "$(date +%s)" "$@" <<'PY' || fail "$what: audit records"
import json, sys, datetime
path, first, start_us, now_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
exp = [e.split("|") for e in sys.argv[5:]]
recs = [json.loads(l) for l in open(path) if l.strip()]
def show(r):
    return "%s %s %s %s %s" % (r["seq"], r["actor"], r["action"], r["object"], r["outcome"])
if len(recs) != len(exp):
    sys.exit("got %d records, expected %d:\n  %s" % (len(recs), len(exp),
             "\n  ".join(show(r) for r in recs)))
for i, (r, e) in enumerate(zip(recs, exp)):
    actor, action, obj, outcome, needles = (e + [""])[:5]
    if r["seq"] != first + i:
        sys.exit("sequence gap at %s" % r["seq"])
    if (r["actor"], r["action"], r["object"], r["outcome"]) != (actor, action, obj, outcome):
        sys.exit("record %s, expected %s %s %s %s" % (show(r), actor, action, obj, outcome))
    for n in filter(None, needles.split(";")):
        if n not in (r["detail"] or ""):
            sys.exit("record %s: no %r in detail %r" % (show(r), n, r["detail"]))
    t = r["time"]
    dt = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    us = int(dt.timestamp()) * 1000000 + dt.microsecond
    if us != r["time_us"] or not (start_us <= us <= (now_s + 1) * 1000000):
        sys.exit("record %s: time %s (%s) is not UTC now" % (show(r), t, r["time_us"]))
PY
	printf -v "$var" '%s' $((${!var} + $#))
}

# ---------------------------------------------------------------- enrol
step "enrol a signer with known secrets"
SEED=$(enroll_user tess "$PW")
# M: the audit mark, passed by name to expect_audit.
# shellcheck disable=SC2034
M=$(audit_head)
C2=$(enroll_cred tess "$PIN_SCAL2" --key ec-p256 --scal 2 --auth pin+otp --multisign 3)
C1=$(enroll_cred tess "$PIN_SCAL1" --key rsa-2048 --scal 1 --auth pin)
ADMIN_ACTOR=$(admin audit show | tail -n1 | cut -f3)
assert_contains "$ADMIN_ACTOR" "admin:" "operator actor"
expect_audit "credential add (x2)" M \
	"$ADMIN_ACTOR|keygen|credential:$C2|success|\"user\":\"tess\";\"scal\":2" \
	"$ADMIN_ACTOR|credential.cert|credential:$C2|success|Test Tess" \
	"$ADMIN_ACTOR|keygen|credential:$C1|success|\"user\":\"tess\";\"scal\":1" \
	"$ADMIN_ACTOR|credential.cert|credential:$C1|success|Test Tess"

# ---------------------------------------------------------------- T10/T11
P11=(pkcs11-tool --module "$MODULE" --token-label cisres)
export SOFTHSM2_CONF=$CISRES_STATE/hsm/softhsm2.conf
[ -f "$SOFTHSM2_CONF" ] || fail "no $SOFTHSM2_CONF"
HSM_PIN=$(head -n1 "$CISRES_STATE/hsm/pin")
[ -n "$HSM_PIN" ] || fail "empty HSM PIN file"

step "T10: without the PIN, another application sees no private or secret key"
"${P11[@]}" -O >"$W/p11-public.txt" 2>&1 || fail "pkcs11-tool -O: $(cat "$W/p11-public.txt")"
grep -q "Public Key Object" "$W/p11-public.txt" || fail "pkcs11-tool sees no public key at all"
if grep -Eq "Private Key Object|Secret Key Object" "$W/p11-public.txt"; then
	fail "a private or secret key is visible without login"
fi

step "T11: pkcs11-tool -O --login: signer keys sign only, sensitive, never extractable"
"${P11[@]}" --login --pin "$HSM_PIN" -O >"$W/p11.txt" 2>&1 ||
	fail "pkcs11-tool --login -O: $(cat "$W/p11.txt")"
"$PY" - "$W/p11.txt" "$C1" "$C2" <<'PY' || fail "pkcs11-tool -O: key attributes"
import sys
text = open(sys.argv[1]).read()
creds = set(sys.argv[2:])
objs, cur = [], None
for line in text.splitlines():
    if line and not line.startswith(" "):
        cur = {"kind": line.split(";")[0].strip()}
        objs.append(cur)
    elif cur is not None and ":" in line:
        k, v = line.split(":", 1)
        cur[k.strip()] = v.strip()
priv = [o for o in objs if o["kind"] == "Private Key Object"]
signer = {o.get("label", "")[5:] for o in priv if o.get("label", "").startswith("cred-")}
if signer != creds:
    sys.exit("signer private keys %s, expected %s" % (sorted(signer), sorted(creds)))
for o in priv:  # signer keys, and the CA and TSA keys too
    if o.get("Usage") != "sign":
        sys.exit("%s: Usage %r, expected 'sign' only" % (o.get("label"), o.get("Usage")))
    access = [a.strip() for a in o.get("Access", "").split(",")]
    for need in ("sensitive", "always sensitive", "never extractable", "local"):
        if need not in access:
            sys.exit("%s: Access %r lacks %r" % (o.get("label"), o.get("Access"), need))
    if "extractable" in access:
        sys.exit("%s: extractable" % o.get("label"))
for o in objs:
    for bad in ("decrypt", "unwrap", "derive", "wrap"):
        if o["kind"] == "Private Key Object" and bad in o.get("Usage", ""):
            sys.exit("%s: usage %s" % (o.get("label"), bad))
PY
# Reading a signer's private key out is refused.
if "${P11[@]}" --login --pin "$HSM_PIN" --read-object --type privkey --id "$C2" \
	-o "$W/priv.der" >"$W/p11-read.txt" 2>&1 && [ -s "$W/priv.der" ]; then
	fail "pkcs11-tool read the private key of $C2"
fi
unset SOFTHSM2_CONF

# ---------------------------------------------------------------- T15
step "T15: cisres-admin has no command to authorize or sign"
HELP=$("$CISRES_BUILD/cisres-admin" --help 2>&1)
for g in user credential audit; do
	HELP+=$'\n'$("$CISRES_BUILD/cisres-admin" "$g" --help 2>&1)
done
printf '%s\n' "$HELP" >"$W/help.txt"
if grep -Eiwq 'authori[sz]e|authorization|sign|signhash|signdoc|sad|extend' "$W/help.txt"; then
	fail "cisres-admin help names a signing operation: $(grep -Eiw 'authori[sz]e|sign|sad|login' "$W/help.txt")"
fi
for cmd in authorize sign signHash credential\ authorize credential\ sign user\ login; do
	# shellcheck disable=SC2086
	if admin $cmd "$C2" >"$W/cmd.out" 2>&1; then
		fail "cisres-admin $cmd succeeded"
	fi
done

# ---------------------------------------------------------------- T16 over HTTP
step "T16: login fails twice, then succeeds"
# shellcheck disable=SC2034
M=$(audit_head)
csc_basic tess "$WRONG_PW1" '{}'
assert_error 400 authentication_error
csc_basic tess "$WRONG_PW2" '{}'
assert_error 400 authentication_error
csc_basic tess "$PW" '{"rememberMe":true}'
assert_status 200 "login"
AT1=$(jget access_token)
RT1=$(jget refresh_token)
if [ -z "$AT1" ] || [ -z "$RT1" ]; then fail "no access or refresh token"; fi
expect_audit "login x3" M \
	"user:tess|login|user:tess|failure|wrong password;failures=1" \
	"user:tess|login|user:tess|failure|wrong password;failures=2" \
	"user:tess|login|user:tess|success|refresh token issued"
csc auth/login "{\"refresh_token\":\"$RT1\",\"rememberMe\":true}"
assert_status 200 "login with the refresh token"
AT2=$(jget access_token)
RT2=$(jget refresh_token)
[ -n "$AT2" ] || fail "no access token from the refresh token"
expect_audit "refresh" M "user:tess|login.refresh|user:tess|success"

step "T16: authorize 3 hashes (SCAL2, PIN + OTP), sign them one by one"
for i in 1 2 3; do
	printf 'T16 document %s %s' "$i" "$RANDOM" >"$W/doc$i"
	declare "H$i=$(digest_b64 sha256 "$W/doc$i")"
	declare "X$i=$(b64hex "$(digest_b64 sha256 "$W/doc$i")")"
done
totp_settle 5
OTP=$(totp "$SEED")
csc credentials/authorize "{\"credentialID\":\"$C2\",\"numSignatures\":3,\"hashes\":[\"$H1\",\"$H2\",\"$H3\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"$PIN_SCAL2\"},{\"id\":\"OTP\",\"value\":\"$OTP\"}]}" "$AT2"
assert_status 200 "authorize SCAL2"
SAD2=$(jget SAD)
[ -n "$SAD2" ] || fail "no SAD"
expect_audit "authorize" M \
	"user:tess|authorize|credential:$C2|success|\"numSignatures\":3;$X1;$X2;$X3"
for i in 1 2 3; do
	h=H$i
	x=X$i
	csc signatures/signHash "{\"credentialID\":\"$C2\",\"SAD\":\"$SAD2\",\"hashes\":[\"${!h}\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_ES256\"}" "$AT2"
	assert_status 200 "signHash $i"
	expect_audit "sign $i" M "user:tess|sign|credential:$C2|success|${!x};\"spent\":1"
done
csc signatures/signHash "{\"credentialID\":\"$C2\",\"SAD\":\"$SAD2\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_ES256\"}" "$AT2"
assert_error 400 invalid_request
expect_audit "a fourth sign" M "user:tess|sign|credential:$C2|failure"

step "T16: SCAL1 authorize and sign, then five wrong PINs lock the credential"
csc credentials/authorize "{\"credentialID\":\"$C1\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"$PIN_SCAL1\"}]}" "$AT2"
assert_status 200 "authorize SCAL1"
SAD1=$(jget SAD)
csc signatures/signHash "{\"credentialID\":\"$C1\",\"SAD\":\"$SAD1\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_RSA_SHA256\"}" "$AT2"
assert_status 200 "signHash SCAL1"
expect_audit "SCAL1 authorize + sign" M \
	"user:tess|authorize|credential:$C1|success|\"numSignatures\":1" \
	"user:tess|sign|credential:$C1|success|$X1"
for i in 1 2 3 4 5; do
	csc credentials/authorize "{\"credentialID\":\"$C1\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"$WRONG_PIN\"}]}" "$AT2"
	[ "$CSC_STATUS" = 400 ] || fail "wrong PIN $i: HTTP $CSC_STATUS"
	if [ "$i" -lt 5 ]; then
		expect_audit "wrong PIN $i" M \
			"user:tess|authorize|credential:$C1|failure|wrong PIN;\"failures\":$i"
	else
		expect_audit "wrong PIN $i (lockout)" M \
			"user:tess|lockout|credential:$C1|success|\"failures\":5" \
			"user:tess|authorize|credential:$C1|failure|wrong PIN;\"failures\":5"
	fi
done
csc credentials/authorize "{\"credentialID\":\"$C1\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"$PIN_SCAL1\"}]}" "$AT2"
[ "$CSC_STATUS" = 400 ] || fail "the right PIN on a locked credential: HTTP $CSC_STATUS"
expect_audit "locked" M "user:tess|authorize|credential:$C1|failure|credential locked"

step "T16: unlock and PIN change by the operator, authorize again, key delete"
must admin credential unlock "$C1" >/dev/null
expect_audit "unlock" M "$ADMIN_ACTOR|credential.unlock|credential:$C1|success|was locked"
CISRES_TEST_PIN=$NEW_PIN must admin credential passwd "$C1" --pin-env CISRES_TEST_PIN >/dev/null
expect_audit "passwd" M "$ADMIN_ACTOR|pin.set|credential:$C1|success"
csc credentials/authorize "{\"credentialID\":\"$C1\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"$NEW_PIN\"}]}" "$AT2"
assert_status 200 "authorize after unlock"
SAD1B=$(jget SAD)
expect_audit "authorize after unlock" M "user:tess|authorize|credential:$C1|success"
must admin credential del "$C1" >/dev/null
expect_audit "key delete" M "$ADMIN_ACTOR|key.destroy|credential:$C1|success"
csc signatures/signHash "{\"credentialID\":\"$C1\",\"SAD\":\"$SAD1B\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_RSA_SHA256\"}" "$AT2"
assert_error 400 invalid_request "Invalid parameter credentialID"
# The API finds no such credential and does not ask the SAM: no record.
expect_audit "sign after key delete" M
# No record is written for a configuration change: cisresd reads its
# configuration at start only (SIGHUP is ignored) and cisres-admin has no
# configuration command. See docs/security.md T16.
run_verify=$(admin audit verify)
assert_contains "$run_verify" "chain intact" "audit verify"

# ---------------------------------------------------------------- T15 (output)
step "T15: nothing cisres-admin prints holds a password, PIN, seed or verifier"
{
	admin user list
	admin credential list
	admin credential list tess
	admin credential info "$C2"
	admin audit show
	admin audit show --json
} >"$W/admin-out.txt" 2>&1 || fail "cisres-admin read commands"
# The verifier encodings, literally.
# shellcheck disable=SC2016
for s in "$PW" "$PIN_SCAL2" "$PIN_SCAL1" "$NEW_PIN" "$WRONG_PIN" "$WRONG_PW1" "$SEED" \
	'$scrypt$' '$hsm1$' '$hmac1$'; do
	assert_not_contains "$(cat "$W/admin-out.txt")" "$s" "cisres-admin output"
done

# ---------------------------------------------------------------- T18
# scan_state LABEL: every secret, in every form, in every file of the state
# directory except the SoftHSM token (whose private objects are encrypted
# under the token PIN) and the HSM PIN files, and in the server's output.
# Also: no DER private key anywhere in the state, the token included.
scan_state() {
	"$PY" - "$1" "$CISRES_STATE" "$CISRES_TMP/server.log" "$CISRES_TMP/server.out" \
		"$W/secrets" <<'PY' || fail "T18: secrets found ($1)"
import base64, binascii, os, re, sys
label, state, logs, secrets_file = sys.argv[1], sys.argv[2], sys.argv[3:5], sys.argv[5]
secrets = []
for line in open(secrets_file):
    kind, name, value = line.rstrip("\n").split("\t", 2)
    secrets.append((kind, name, value))

def forms(kind, value):
    raw = value.encode()
    out = {"raw": raw, "base64": base64.b64encode(raw),
           "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
           "hex": binascii.hexlify(raw), "HEX": binascii.hexlify(raw).upper()}
    if kind == "b64url":  # tokens and SADs: also the bytes they encode
        try:
            b = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            if len(b) >= 16:
                out.update({"decoded": b, "decoded-hex": binascii.hexlify(b),
                            "decoded-base64": base64.b64encode(b)})
        except (binascii.Error, ValueError):
            pass
    if kind == "base32":  # the TOTP seed
        b = base64.b32decode(value + "=" * (-len(value) % 8))
        out.update({"decoded": b, "decoded-hex": binascii.hexlify(b),
                    "decoded-base64": base64.b64encode(b)})
    return {k: v for k, v in out.items() if len(v) >= 6}

files = list(logs)
for root, dirs, names in os.walk(state):
    rel = os.path.relpath(root, state)
    if rel == "hsm/tokens" or rel.startswith("hsm/tokens/"):
        continue
    for n in names:
        if rel == "hsm" and n in ("pin", "so-pin"):
            continue
        files.append(os.path.join(root, n))
hits = []
scanned = 0
for path in files:
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        continue
    scanned += 1
    for kind, name, value in secrets:
        for form, b in forms(kind, value).items():
            if kind == "otp":  # 6 digits: only a delimited occurrence counts
                pat = rb"(?<![0-9A-Za-z])" + re.escape(b) + rb"(?![0-9A-Za-z])"
                if form == "raw" and re.search(pat, data):
                    hits.append("%s (%s) in %s" % (name, form, path))
                continue
            if b in data:
                hits.append("%s (%s) in %s" % (name, form, path))
if scanned < 5:
    sys.exit("only %d files scanned" % scanned)

# DER openings of private keys (PKCS#8, SEC1 P-256/P-384/P-521, PKCS#1),
# anywhere in the state, the token directory included.
pats = [rb"\x30\x82..\x02\x01\x00\x30", rb"\x30\x81.\x02\x01\x00\x30",
        rb"\x30\x77\x02\x01\x01\x04\x20", rb"\x30\x81\xa4\x02\x01\x01\x04\x30",
        rb"\x30\x81\xdc\x02\x01\x01\x04\x42", rb"\x30\x82..\x02\x01\x00\x02\x82"]
for root, dirs, names in os.walk(state):
    for n in names:
        path = os.path.join(root, n)
        data = open(path, "rb").read()
        for p in pats:
            if re.search(p, data, re.S):
                hits.append("a DER private key (%r) in %s" % (p, path))
if hits:
    sys.exit("\n".join(hits))
print("[%s] scanned %d files for %d secrets" % (label, scanned, len(secrets)))
PY
}

step "T18: no secret in the state directory or the server's output"
HSM_SO_PIN=$(head -n1 "$CISRES_STATE/hsm/so-pin")
{
	printf 'text\tpassword\t%s\n' "$PW"
	printf 'text\twrong password 1\t%s\n' "$WRONG_PW1"
	printf 'text\twrong password 2\t%s\n' "$WRONG_PW2"
	printf 'text\tBasic credentials\t%s\n' "$(printf 'tess:%s' "$PW" | base64 -w0)"
	printf 'text\tSCAL2 PIN\t%s\n' "$PIN_SCAL2"
	printf 'text\tSCAL1 PIN\t%s\n' "$PIN_SCAL1"
	printf 'text\tnew PIN\t%s\n' "$NEW_PIN"
	printf 'text\twrong PIN\t%s\n' "$WRONG_PIN"
	printf 'otp\tOTP\t%s\n' "$OTP"
	printf 'base32\tTOTP seed\t%s\n' "$SEED"
	printf 'b64url\taccess token 1\t%s\n' "$AT1"
	printf 'b64url\taccess token 2\t%s\n' "$AT2"
	printf 'b64url\trefresh token 1\t%s\n' "$RT1"
	printf 'b64url\trefresh token 2\t%s\n' "$RT2"
	printf 'b64url\tSAD SCAL2\t%s\n' "$SAD2"
	printf 'b64url\tSAD SCAL1\t%s\n' "$SAD1"
	printf 'b64url\tSAD after unlock\t%s\n' "$SAD1B"
	printf 'text\tHSM user PIN\t%s\n' "$HSM_PIN"
	printf 'text\tHSM SO PIN\t%s\n' "$HSM_SO_PIN"
} >"$W/secrets"
[ -n "$RT2" ] || sed -i '/refresh token 2/d' "$W/secrets"
scan_state "server running"

# ---------------------------------------------------------------- T18 cores
step "T18: no cisresd process can dump core"
# Every process of the server: the HTTP process (started here), the SAM
# monitor and the SAM process (its descendants).
descendants() {
	local p=$1 c
	printf '%s\n' "$p"
	for c in $(ps -o pid= --ppid "$p"); do
		descendants "$c"
	done
}
PIDS=$(descendants "$CISRES_SERVER_PID")
[ "$(printf '%s\n' "$PIDS" | wc -l)" -ge 3 ] || fail "expected HTTP, monitor and SAM processes: $PIDS"
for p in $PIDS; do
	line=$(grep -i '^Max core file size' "/proc/$p/limits") || fail "no limits for $p"
	read -r -a f <<<"${line#Max core file size}"
	assert_eq "${f[0]} ${f[1]}" "0 0" "core size limit (soft hard) of process $p ($(tr '\0' ' ' <"/proc/$p/cmdline"))"
done
note "shell core limit was '$SHELL_CORE_LIMIT'; every cisresd process has 0"

step "T18: SIGSEGV in the HTTP process leaves no core file"
# Where would a core go? /proc/sys/kernel/core_pattern: a path template
# (relative to the crashing process's working directory, "core" by default),
# or "|program" (systemd-coredump, apport), which then stores it, e.g. in
# /var/lib/systemd/coredump. RLIMIT_CORE 0 stops the file dump; a pipe
# handler is still started, and systemd-coredump honours the limit (it is
# passed as %c) and stores nothing. We look in every place that applies.
PATTERN=$(cat /proc/sys/kernel/core_pattern)
HTTP_CWD=$(readlink "/proc/$CISRES_SERVER_PID/cwd")
DIRS=("$HTTP_CWD" "$CISRES_STATE" "$PWD" /var/lib/systemd/coredump /var/crash)
case "$PATTERN" in
/*) DIRS+=("$(dirname "$PATTERN")") ;;
esac
touch "$W/before-crash"
sleep 1
kill -SEGV "$CISRES_SERVER_PID"
rc=0
wait "$CISRES_SERVER_PID" || rc=$?
if grep -q __asan_init "$CISRES_BUILD/cisresd" 2>/dev/null; then
	# AddressSanitizer catches the signal, reports and aborts; it also
	# keeps RLIMIT_CORE at 0 by itself (disable_coredump).
	[ "$rc" -ne 0 ] || fail "cisresd survived SIGSEGV"
else
	assert_eq "$rc" 139 "exit status of the HTTP process after SIGSEGV (128 + 11)"
fi
CISRES_SERVER_PID=
# The monitor and the SAM follow (EOF on their sockets).
for _ in $(seq 1 50); do
	alive=
	for p in $PIDS; do
		kill -0 "$p" 2>/dev/null && alive+=" $p"
	done
	[ -z "$alive" ] && break
	sleep 0.1
done
if [ -n "$alive" ]; then
	# shellcheck disable=SC2086
	kill -KILL $alive 2>/dev/null || true
	fail "processes still running after the HTTP process died:$alive"
fi
sleep 1
for d in "${DIRS[@]}"; do
	[ -d "$d" ] || continue
	found=$(find "$d" -maxdepth 1 -newer "$W/before-crash" \( -name 'core*' -o -name '*cisresd*' \) 2>/dev/null || true)
	if [ -n "$found" ]; then
		fail "core file(s) after SIGSEGV (core_pattern '$PATTERN'): $found"
	fi
done
note "core_pattern '$PATTERN': no core in ${DIRS[*]}"

step "T18: after the crash, still no secret anywhere"
scan_state "after SIGSEGV"
