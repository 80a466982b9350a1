#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The user CLI against a real cisresd: `cisres login` with password + TOTP
# (from oathtool through --otp-command), the refresh token stored 0600 and
# the module configuration written; `cisres status` lists the credentials
# through the CSC API; `cisres logout` revokes the refresh token at the
# service (a later refresh-token login fails) and deletes it; exit codes.
. "$(dirname "$0")/lib.sh"

command -v oathtool >/dev/null || fail "oathtool is required"
CISRES=$CISRES_BUILD/cisres
[ -x "$CISRES" ] || fail "no cisres in $CISRES_BUILD"
cisres_start_server
W=$CISRES_TMP/work
mkdir -p "$W"

# A private home for the CLI: configuration, tokens and cache go there.
export XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache HOME=$W/home
unset CISRES_PKCS11_CONF CISRES_DEBUG
mkdir -p "$HOME"
CONF=$XDG_CONFIG_HOME/cisres/pkcs11.conf
ALICE_TOKEN=$XDG_CONFIG_HOME/cisres/tokens/alice.token

mode() { stat -c %a "$1"; }

step "enroll alice (password + TOTP at login) and bob (password only)"
ALICE_PW='alice-Pw-1234'
BOB_PW='bob-Pw-5678'
ALICE_OTP=$(enroll_user alice "$ALICE_PW" --login-otp)
enroll_user bob "$BOB_PW" >/dev/null
EC=$(enroll_cred alice 123456 --key ec-p256 --scal 2 --auth pin+otp)
RSA=$(enroll_cred alice 654321 --key rsa-2048 --scal 1 --auth pin --multisign 5)
BOBC=$(enroll_cred bob 112233 --key ec-p384 --scal 1 --auth pin)

step "usage errors exit 2"
set +e
"$CISRES" >/dev/null 2>&1
assert_eq $? 2 "no command"
"$CISRES" frobnicate >/dev/null 2>&1
assert_eq $? 2 "unknown command"
"$CISRES" login --user alice --bogus >/dev/null 2>&1
assert_eq $? 2 "unknown option"
"$CISRES" login --server "$CISRES_BASE" >/dev/null 2>&1 </dev/null
assert_eq $? 2 "login without --user"
"$CISRES" login --server "$CISRES_BASE" --user alice --password-env A --password-file B \
	>/dev/null 2>&1
assert_eq $? 2 "exclusive password options"
set -e

step "status without configuration fails (exit 1)"
set +e
out=$("$CISRES" status 2>&1)
rc=$?
set -e
assert_eq "$rc" 1 "status without accounts"
assert_contains "$out" "no account configured" "status without accounts"

step "login with a wrong password fails (exit 1), stores nothing"
totp_settle 5
set +e
out=$(PW=wrong-password "$CISRES" login --server "$CISRES_BASE" --user alice \
	--ca-file "$CISRES_CA" --password-env PW --otp "$(totp "$ALICE_OTP")" 2>&1 </dev/null)
rc=$?
set -e
assert_eq "$rc" 1 "wrong password"
assert_contains "$out" "login to" "wrong password message"
[ ! -e "$ALICE_TOKEN" ] || fail "a token file was written after a failed login"
[ ! -e "$CONF" ] || fail "the configuration was written after a failed login"

step "login with password + OTP from oathtool (--otp-command)"
# The code used by the failed attempt may not be reused: take the next one.
sleep $((30 - $(date +%s) % 30 + 1))
out=$(PW=$ALICE_PW "$CISRES" login --server "$CISRES_BASE/" --user alice --ca-file "$CISRES_CA" \
	--password-env PW --otp-command "oathtool --totp -b $ALICE_OTP" 2>&1 </dev/null) ||
	fail "cisres login failed: $out"
assert_contains "$out" "Logged in as alice" "login output"
[ -f "$ALICE_TOKEN" ] || fail "no token file $ALICE_TOKEN"
assert_eq "$(mode "$ALICE_TOKEN")" 600 "token file mode"
assert_eq "$(mode "$(dirname "$ALICE_TOKEN")")" 700 "token directory mode"
[ -f "$CONF" ] || fail "no configuration written"
assert_eq "$(mode "$CONF")" 600 "configuration mode"
conf=$(cat "$CONF")
assert_contains "$conf" "[account alice]" "config section"
assert_contains "$conf" "url = $CISRES_BASE" "config url"
assert_contains "$conf" "user = alice" "config user"
assert_contains "$conf" "ca_file = $(realpath "$CISRES_CA")" "config ca_file"
assert_not_contains "$conf" "$ALICE_PW" "password in the configuration"
REFRESH=$(head -n1 "$ALICE_TOKEN")
[ -n "$REFRESH" ] || fail "empty token file"

step "the stored refresh token works at the service (auth/login refresh_token)"
csc auth/login "{\"refresh_token\":$(json_str "$REFRESH"),\"rememberMe\":false}"
assert_status 200 "refresh-token login"
[ -n "$(jget access_token)" ] || fail "no access token from the refresh token"

step "login for bob (no OTP needed) adds a second section, keeps the first"
printf '# my own comment\n' >>"$CONF"
PW=$BOB_PW "$CISRES" login --server "$CISRES_BASE" --user bob --ca-file "$CISRES_CA" \
	--password-env PW --account bob-work </dev/null >/dev/null || fail "bob login"
conf=$(cat "$CONF")
assert_contains "$conf" "[account alice]" "alice kept"
assert_contains "$conf" "[account bob-work]" "bob added"
assert_contains "$conf" "# my own comment" "comment kept"
assert_eq "$(grep -c '^\[account alice\]' "$CONF")" 1 "one alice section"
[ -f "$XDG_CONFIG_HOME/cisres/tokens/bob-work.token" ] || fail "no token for bob-work"

step "re-login of bob updates its section in place (password from a file)"
printf '%s\n' "$BOB_PW" >"$W/bob.pw"
chmod 600 "$W/bob.pw"
"$CISRES" login --account bob-work --password-file "$W/bob.pw" </dev/null >/dev/null ||
	fail "bob re-login from the configured account"
assert_eq "$(grep -c '^\[account bob-work\]' "$CONF")" 1 "one bob-work section"
assert_eq "$(grep -c '^url = ' "$CONF")" 2 "two url lines"

step "status lists both accounts and the credentials"
if [ "${CISRES_VERBOSE:-0}" = 1 ]; then "$CISRES" status || true; fi
out=$(CISRES_DEBUG=csc "$CISRES" status 2>"$W/status.err") || fail "status failed: $out"
assert_contains "$out" "account alice" "status account"
assert_contains "$out" "online, 2 credential(s)" "alice credentials"
assert_contains "$out" "credential $EC" "EC credential"
assert_contains "$out" "credential $RSA" "RSA credential"
assert_contains "$out" "credential $BOBC" "bob credential"
assert_contains "$out" "EC P-256" "EC key type"
assert_contains "$out" "EC P-384" "EC P-384 key type"
assert_contains "$out" "RSA 2048 bits" "RSA key type"
assert_contains "$out" "SCAL:       2   multisign: 1" "SCAL2"
assert_contains "$out" "SCAL:       1   multisign: 5" "SCAL1 multisign"
assert_contains "$out" "PIN AND OTP" "auth expression"
assert_contains "$out" "subject:    " "subject"
assert_contains "$out" "CN=" "subject DN"
assert_contains "$out" "valid:      20" "validity"
assert_contains "$out" "chain:      3 certificate(s)" "chain"
# debug output: method, status, latency; never the tokens
err=$(cat "$W/status.err")
assert_contains "$err" "credentials/list -> 200" "debug log of the csc category"
assert_not_contains "$err" "$REFRESH" "refresh token in the debug log"

step "status --account selects one; unknown account fails"
out=$("$CISRES" status --account bob-work) || fail "status --account"
assert_not_contains "$out" "account alice" "only bob-work"
must_fail "$CISRES" status --account nobody

step "logout needs --account when several are configured"
set +e
"$CISRES" logout >/dev/null 2>&1
assert_eq $? 1 "ambiguous logout"
set -e

step "logout revokes the refresh token and deletes it"
mkdir -p "$XDG_CACHE_HOME/cisres"
printf '{}' >"$XDG_CACHE_HOME/cisres/alice.json"
out=$("$CISRES" logout --account alice 2>&1) || fail "logout failed: $out"
assert_contains "$out" "Logged out" "logout output"
[ ! -e "$ALICE_TOKEN" ] || fail "token file still there after logout"
[ ! -e "$XDG_CACHE_HOME/cisres/alice.json" ] || fail "cache still there after logout"
csc auth/login "{\"refresh_token\":$(json_str "$REFRESH"),\"rememberMe\":false}"
case "$CSC_STATUS" in
400 | 401) ;;
*) fail "a revoked refresh token still logs in (HTTP $CSC_STATUS)" ;;
esac

step "after logout: status reports not logged in (exit 1); logout again is harmless"
set +e
out=$("$CISRES" status --account alice 2>&1)
rc=$?
set -e
assert_eq "$rc" 1 "status after logout"
assert_contains "$out" "not logged in" "status after logout"
out=$("$CISRES" logout --account alice 2>&1) || fail "second logout: $out"
assert_contains "$out" "not logged in" "second logout"

step "a refused configuration file permission is reported"
chmod 620 "$CONF"
out=$("$CISRES" status --account bob-work 2>&1) || true
assert_contains "$out" "writable by group/others" "permission warning"
chmod 600 "$CONF"
