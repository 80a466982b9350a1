#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cisres-admin end to end on a throw-away state directory (no server needed):
# init; user add/list/passwd/unlock/del; credential add for every key type at
# both SCAL levels, list/info/disable/enable/unlock/passwd/del; the issued
# certificates chain to STATE/ca/chain.pem; audit show/verify, and verify
# detects an edited, a deleted, a swapped and a truncated record.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
command -v oathtool >/dev/null || fail "oathtool is required"
[ -x "$CISRES_BUILD/cisres-admin" ] || fail "no cisres-admin in $CISRES_BUILD"

CISRES_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cisres-admin.XXXXXX")
CISRES_STATE=$CISRES_TMP/state
export CISRES_TMP CISRES_STATE
trap cisres_cleanup EXIT
W=$CISRES_TMP/work
mkdir -p "$W"
DB=$CISRES_STATE/cisres.db
ME=$(id -un)

# run EXPECTED_RC ARGS...: cisres-admin with stdin from /dev/null (unless the
# caller redirects), output in $W/out and $W/err, rc checked.
run() {
	local want=$1 rc=0
	shift
	admin "$@" >"$W/out" 2>"$W/err" </dev/null || rc=$?
	if [ "$rc" != "$want" ]; then
		cat "$W/out" "$W/err" >&2
		fail "cisres-admin $*: exit $rc, expected $want"
	fi
}
out() { cat "$W/out"; }
field() { sed -n "s/^$1: //p" "$W/out" | head -n1; } # KEY: value of the last run

# ---------------------------------------------------------------- usage
step "usage errors exit 2"
run 2
run 2 frobnicate
run 2 user
run 2 user add nodisplay
run 2 user add 'bad name' --display X
run 2 user add x --display X --login-otp --no-otp
run 2 credential add alice
run 2 credential add alice --key ec-p521
run 2 credential add alice --key ec-p256 --scal 3
run 2 credential add alice --key ec-p256 --scal 2 --auth pin
run 2 credential add alice --key ec-p256 --multisign 0
run 2 audit show --from 0
run 2 audit verify extra
run 0 --help
assert_contains "$(out)" "credential" "global usage"

step "commands on an uninitialised directory fail cleanly"
run 1 user list
assert_contains "$(cat "$W/err")" "init" "hint to run init"
[ ! -e "$DB" ] || fail "user list created a store"

# ---------------------------------------------------------------- init
step "init creates the state directory; running it again is harmless"
run 0 init
assert_eq "$(field state)" "$CISRES_STATE" "state line"
assert_eq "$(field ca-chain)" "$CISRES_STATE/ca/chain.pem" "ca-chain line"
for f in cisres.db ca/root.pem ca/issuing.pem ca/chain.pem ca/tsa.pem hsm/pin; do
	[ -s "$CISRES_STATE/$f" ] || fail "init did not create $f"
done
assert_eq "$(stat -c %a "$CISRES_STATE")" 700 "state directory mode"
run 0 init

# ---------------------------------------------------------------- users
step "user add with a password from the environment, --login-otp"
ALICE_PW='alice-Pw-1234'
rc=0
CISRES_ADMIN_PW=$ALICE_PW admin user add alice --display "Alice Example" \
	--email alice@example.org --password-env CISRES_ADMIN_PW --login-otp \
	>"$W/out" 2>"$W/err" </dev/null || rc=$?
assert_eq "$rc" 0 "user add alice"
assert_eq "$(sed -n 1p "$W/out")" "user: alice" "first line"
assert_not_contains "$(out)" "password:" "given password is not printed"
assert_not_contains "$(out)" "$ALICE_PW" "given password is not printed"
ALICE_OTP=$(field totp-secret)
[[ "$ALICE_OTP" =~ ^[A-Z2-7]{32}$ ]] || fail "totp-secret is not 20 bytes of Base32: $ALICE_OTP"
URI=$(field otpauth)
assert_contains "$URI" "otpauth://totp/CISRES:alice?" "otpauth URI"
assert_contains "$URI" "secret=$ALICE_OTP" "URI carries the secret"
oathtool --totp -b "$ALICE_OTP" >/dev/null || fail "oathtool rejects the TOTP secret"
if grep -q $'\xe2\x96' "$W/out"; then fail "QR code drawn although stdout is not a terminal"; fi

step "user add with a generated password and --qr"
run 0 user add bob --display "Bob Builder" --qr
BOB_PW=$(field password)
[[ "$BOB_PW" =~ ^[A-Za-z0-9]{20}$ ]] || fail "generated password looks wrong: $BOB_PW"
BOB_URI=$(field otpauth)
# The QR code: half-block rows decode to a square module matrix with the
# three finder patterns inside a 4-module quiet zone.
"$PY" - "$W/out" <<'PYQR' || fail "the QR code is malformed"
import sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
rows = lines[[l.startswith("otpauth: ") for l in lines].index(True) + 1:]
m = []
for r in rows:
    top = [c in "\u2588\u2580" for c in r]
    bot = [c in "\u2588\u2584" for c in r]
    m += [top, bot]
width = len(m[0])
assert all(len(r) == width for r in m), "ragged rows"
m = m[:width]  # the last text line holds one module row only
n = width - 8
assert n >= 21 and (n - 21) % 4 == 0, "bad size %d" % n
q = [r[4:4 + n] for r in m[4:4 + n]]
assert not any(any(r[:4]) or any(r[-4:]) for r in m), "quiet zone not empty"
assert not any(m[0]) and not any(m[width - 1]), "quiet zone not empty"
def finder(x, y):
    for dy in range(7):
        for dx in range(7):
            ring = max(abs(dx - 3), abs(dy - 3))
            want = ring != 2
            if q[y + dy][x + dx] != want:
                return False
    return True
assert finder(0, 0) and finder(n - 7, 0) and finder(0, n - 7), "finder patterns"
PYQR

step "user add with --no-otp and a password file (world-readable: warning)"
printf 'carol-Pw-9012\nsecond line ignored\n' >"$W/carol.pw"
chmod 644 "$W/carol.pw"
run 0 user add carol --display "Carol Çelik" --no-otp --password-file "$W/carol.pw"
assert_contains "$(cat "$W/err")" "world-readable" "warning for a world-readable file"
assert_not_contains "$(out)" "totp-secret" "no TOTP with --no-otp"
assert_not_contains "$(out)" "carol-Pw" "password file content not printed"

step "user add refusals"
run 1 user add alice --display "Again" --password-env CISRES_NOPE
echo short | admin user add dave --display Dave --password-stdin >"$W/out" 2>"$W/err" &&
	fail "a 5-character password was accepted"
assert_contains "$(cat "$W/err")" "too short" "short password message"
run 1 user add alice --display "Alice Again"
assert_contains "$(cat "$W/err")" "exists" "duplicate user"

step "user list"
run 0 user list
assert_eq "$(out | wc -l)" 3 "three users"
assert_eq "$(out | grep '^alice' | cut -f2-4)" "Alice Example	unlocked	0" "alice line"
assert_eq "$(out | grep '^carol' | cut -f2)" "Carol Çelik" "UTF-8 display name"

step "user passwd (stdin, env, generated) and unlock"
echo 'alice-New-Pw-1' | admin user passwd alice --password-stdin >"$W/out" 2>"$W/err" ||
	fail "user passwd --password-stdin"
assert_not_contains "$(out)" "password:" "given password not printed"
CISRES_X='alice-New-Pw-2' admin user passwd alice --password-env CISRES_X >"$W/out" 2>&1 ||
	fail "user passwd --password-env"
run 0 user passwd alice
[[ "$(field password)" =~ ^[A-Za-z0-9]{20}$ ]] || fail "no generated password without a tty"
run 1 user passwd nobody --password-env CISRES_X
run 0 user unlock alice
assert_eq "$(out)" "unlocked: alice" "unlock output"

# ---------------------------------------------------------------- credentials
step "credential add: every key type, both SCAL levels, certificates chain to ca/chain.pem"
declare -A CRED=()
cred_check() { # ID KEYTYPE USER_CN EMAIL
	local id=$1 key=$2 cn=$3 email=$4 pem=$W/$1.pem text
	run 0 credential info "$id"
	sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$W/out" >"$pem"
	[ -s "$pem" ] || fail "credential info $id printed no certificate"
	openssl verify -CAfile "$CISRES_STATE/ca/chain.pem" "$pem" >/dev/null 2>&1 ||
		fail "certificate of $id ($key) does not chain to ca/chain.pem"
	text=$(openssl x509 -in "$pem" -noout -text -nameopt utf8)
	assert_contains "$text" "CN=$cn" "subject CN of $key"
	[ -z "$email" ] || assert_contains "$text" "$email" "e-mail in the $key certificate"
	case $key in
	ec-p256) assert_contains "$text" "NIST CURVE: P-256" "curve of $key" ;;
	ec-p384) assert_contains "$text" "NIST CURVE: P-384" "curve of $key" ;;
	rsa-*) assert_contains "$text" "Public-Key: (${key#rsa-} bit)" "size of $key" ;;
	esac
	assert_contains "$text" "Digital Signature, Non Repudiation" "key usage of $key"
}
for key in ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096; do
	for scal in 2 1; do
		# RSA-4096 key generation is slow in SoftHSM: once is enough.
		[ "$key" = rsa-4096 ] && [ "$scal" = 1 ] && continue
		run 0 credential add alice --key "$key" --scal "$scal"
		id=$(tail -n1 "$W/out" | sed -n 's/^credential: //p')
		[ -n "$id" ] || fail "no credential line for $key scal $scal"
		assert_eq "$(field key)" "$key" "key line"
		assert_eq "$(field scal)" "$scal" "scal line"
		if [ "$scal" = 2 ]; then
			assert_eq "$(field auth)" "pin+otp" "default auth at SCAL2"
			assert_eq "$(field multisign)" 1 "default multisign at SCAL2"
		else
			assert_eq "$(field auth)" "pin" "default auth at SCAL1"
			assert_eq "$(field multisign)" 100 "default multisign at SCAL1"
		fi
		[[ "$(field pin)" =~ ^[0-9]{6}$ ]] || fail "no generated 6-digit PIN for $key"
		CRED[$key.$scal]=$id
		cred_check "$id" "$key" "Alice Example" alice@example.org
	done
done

step "credential add with options; refusals"
rc=0
CISRES_PIN=4711 admin credential add carol --key ec-p256 --scal 1 --pin-env CISRES_PIN \
	--multisign 7 --description "Carol's seal" --days 30 >"$W/out" 2>"$W/err" || rc=$?
assert_eq "$rc" 0 "credential add carol"
assert_not_contains "$(out)" "pin:" "a given PIN is not printed"
assert_not_contains "$(out)" "4711" "a given PIN is not printed"
CAROL_C=$(tail -n1 "$W/out" | sed -n 's/^credential: //p')
exp=$(field expires)
want=$(date -u -d '+30 days' +%Y-%m-%d)
case "$exp" in "$want"* | "$(date -u -d '+29 days' +%Y-%m-%d)"*) ;;
*) fail "--days 30 gave expiry $exp" ;; esac
cred_check "$CAROL_C" ec-p256 "Carol Çelik" ""
run 0 credential info "$CAROL_C"
assert_eq "$(field multisign)" 7 "multisign in info"
assert_eq "$(field description)" "Carol's seal" "description in info"
assert_eq "$(field user)" carol "user in info"
run 1 credential add carol --key ec-p256 --scal 2
assert_contains "$(cat "$W/err")" "TOTP" "pin+otp needs a TOTP secret"
echo 123 | admin credential add carol --key ec-p256 --scal 1 --pin-stdin >"$W/out" 2>"$W/err" &&
	fail "a 3-digit PIN was accepted"
run 1 credential add nobody --key ec-p256
run 2 credential add alice --key ec-p256 --multisign 1001
n_before=$(admin credential list | wc -l)
[ "$n_before" -eq 10 ] || fail "expected 10 credentials, got $n_before"

step "credential list"
run 0 credential list alice
assert_eq "$(out | wc -l)" 9 "alice has 9 credentials"
line=$(out | grep "^${CRED[rsa-2048.1]}")
assert_eq "$(printf '%s' "$line" | cut -f2-7)" "alice	rsa-2048	1	pin	100	active" "list line"
[[ "$(printf '%s' "$line" | cut -f8)" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T ]] || fail "no expiry"
run 0 user list
assert_eq "$(out | grep '^alice' | cut -f4)" 9 "user list counts credentials"

step "credential disable / enable / unlock / passwd"
C=${CRED[ec-p256.2]}
run 0 credential disable "$C"
assert_eq "$(admin credential list alice | grep "^$C" | cut -f7)" disabled "disabled"
run 0 credential enable "$C"
assert_eq "$(admin credential list alice | grep "^$C" | cut -f7)" active "enabled"
run 0 credential unlock "$C"
echo 'new-pin-99' | admin credential passwd "$C" --pin-stdin >"$W/out" 2>"$W/err" ||
	fail "credential passwd --pin-stdin"
assert_not_contains "$(out)" "new-pin-99" "a given PIN is not printed"
run 0 credential passwd "$C"
[[ "$(field pin)" =~ ^[0-9]{6}$ ]] || fail "credential passwd without a tty generates a PIN"
run 1 credential disable 00112233445566778899aabbccddeeff
run 1 credential enable 'bad id!'

step "credential del"
C=${CRED[ec-p384.1]}
run 0 credential del "$C"
run 1 credential info "$C"
run 1 credential del "$C"

step "user del refuses while credentials exist; --force destroys them"
run 1 user del carol
assert_contains "$(cat "$W/err")" "--force" "hint to --force"
run 0 user del carol --force
assert_contains "$(out)" "destroyed: $CAROL_C" "credential destroyed"
run 1 credential info "$CAROL_C"
run 0 user del bob
assert_eq "$(admin user list | cut -f1 | tr '\n' ' ')" "alice " "only alice is left"

# ---------------------------------------------------------------- audit
step "audit show and verify"
run 0 audit verify
N=$(out | sed -n 's/^audit: \([0-9]*\) records, chain intact$/\1/p')
[ -n "$N" ] && [ "$N" -gt 20 ] || fail "audit verify: $(out)"
run 0 audit show
assert_eq "$(out | wc -l)" "$N" "one line per record"
out | cut -f3 | grep -v "^admin:$ME\$" >/dev/null && fail "a record without the actor admin:$ME"
for a in init user.add user.passwd user.unlock user.del credential.disable credential.enable \
	credential.unlock keygen key.destroy; do
	out | cut -f4 | grep -x "$a" >/dev/null || fail "no audit record for $a"
done
assert_contains "$(out | grep "user.add" | grep "user:alice")" "success" "user.add alice"
for s in "$ALICE_PW" "$BOB_PW" "$ALICE_OTP" 'carol-Pw-9012' 'new-pin-99' 4711; do
	assert_not_contains "$(out)" "$s" "a secret in the audit log"
done
run 0 audit show --json --from 3
"$PY" - "$W/out" "$N" <<'PYJ' || fail "audit show --json"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs[0]["seq"] == 3 and recs[-1]["seq"] == int(sys.argv[2])
for a, b in zip(recs, recs[1:]):
    assert b["seq"] == a["seq"] + 1 and b["prev"] == a["hash"]
assert all(len(r["hash"]) == 64 and r["time"].endswith("Z") for r in recs)
PYJ

# ---------------------------------------------------------------- tampering
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$DB" "$W/good.db"
restore() {
	rm -f "$DB-wal" "$DB-shm"
	cp "$W/good.db" "$DB"
}
tamper() { # SQL EXPECTED_SEQ_OR_EMPTY WHAT
	restore
	sqlite3 "$DB" "DROP TRIGGER IF EXISTS audit_no_update;
		DROP TRIGGER IF EXISTS audit_no_delete; $1" || fail "sqlite3: $1"
	run 1 audit verify
	local seq
	seq=$(out | sed -n 's/^audit: BROKEN at record \([0-9]*\): .*/\1/p')
	[ -n "$seq" ] || fail "$3: verify said '$(out)'"
	if [ -n "$2" ]; then
		assert_eq "$seq" "$2" "$3: first bad record"
	fi
	note "  $3 -> $(out)"
}
M=$((N / 2))
step "audit verify detects an edited record"
tamper "UPDATE audit SET outcome = 'failure' WHERE seq = $M;" "$M" "edited outcome"
tamper "UPDATE audit SET detail = 'x' || detail WHERE seq = 2;" 2 "edited detail"
step "audit verify detects a deleted middle record"
tamper "DELETE FROM audit WHERE seq = $M;" "$M" "deleted record"
step "audit verify detects two swapped records"
tamper "UPDATE audit SET seq = -1 WHERE seq = $M;
	UPDATE audit SET seq = $M WHERE seq = $((M + 1));
	UPDATE audit SET seq = $((M + 1)) WHERE seq = -1;" "$M" "swapped records"
step "audit verify detects a truncated log"
tamper "DELETE FROM audit WHERE seq = $N;" "$N" "truncated log"
restore
run 0 audit verify
assert_eq "$(out)" "audit: $N records, chain intact" "restored log verifies"
