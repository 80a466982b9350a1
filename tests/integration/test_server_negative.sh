#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every refusal of the CSC API against a real cisresd: parameter errors with
# their exact descriptions, bearer token problems, login failures and
# lockout, PIN/OTP failures and PIN lockout, every SAD problem (wrong hash,
# reuse, concurrent reuse, count, expiry, another signer's SAD), isolation of
# signers, size limits, and a tampered audit log.
. "$(dirname "$0")/lib.sh"

command -v oathtool >/dev/null || fail "oathtool is required"
command -v sqlite3 >/dev/null || fail "sqlite3 is required"
# SADs live 4 s here, so that the expiry step can wait for one: a SAD exists
# only in the SAM process's memory, there is no row to age by hand.
SAD_TTL=4
POLICY_CONF=$(mktemp "${TMPDIR:-/tmp}/cisres-neg-policy.XXXXXX")
printf '[policy]\nsad_ttl = %d\n' "$SAD_TTL" >"$POLICY_CONF"
cisres_start_server --config "$POLICY_CONF"
rm -f "$POLICY_CONF"
W=$CISRES_TMP/work
mkdir -p "$W"
DB=$CISRES_STATE/cisres.db

OID_SHA256=2.16.840.1.101.3.4.2.1
OID_SHA384=2.16.840.1.101.3.4.2.2
OID_ES256=1.2.840.10045.4.3.2
OID_RSA_SHA256=1.2.840.113549.1.1.11
OID_PSS=1.2.840.113549.1.1.10

H1=$(printf 'document one' | openssl dgst -sha256 -binary | b64)
H2=$(printf 'document two' | openssl dgst -sha256 -binary | b64)
H384=$(printf 'document one' | openssl dgst -sha384 -binary | b64)
H20=$(printf 'short' | openssl dgst -sha1 -binary | b64)

step "enroll"
ERIN_PW='erin-Pw-1111'
FRANK_PW='frank-Pw-2222'
enroll_user erin "$ERIN_PW" >/dev/null
enroll_user frank "$FRANK_PW" >/dev/null
GINA_OTP=$(enroll_user gina 'gina-Pw-3333')
enroll_user hank 'hank-Pw-4444' >/dev/null
enroll_user ivan 'ivan-Pw-5555' >/dev/null
JANE_OTP=$(enroll_user jane 'jane-Pw-6666' --login-otp)
# erin: a SCAL1 PIN-only EC key with 3 uses per SAD, a SCAL1 RSA key and a
# PIN-only key for the lockout test; gina: a SCAL2 key (PIN AND OTP).
E1=$(enroll_cred erin 1111 --key ec-p256 --scal 1 --auth pin --multisign 3)
ER=$(enroll_cred erin 2222 --key rsa-2048 --scal 1 --auth pin)
EL=$(enroll_cred erin 3333 --key ec-p256 --scal 1 --auth pin)
F1=$(enroll_cred frank 5555 --key ec-p256 --scal 1 --auth pin)
G2=$(enroll_cred gina 6666 --key ec-p256 --multisign 1)
ERIN=$(login erin "$ERIN_PW")
FRANK=$(login frank "$FRANK_PW")
GINA=$(login gina 'gina-Pw-3333')

# authorize_pin TOKEN CRED PIN [NUM]: prints the SAD (SCAL1, PIN only)
authorize_pin() {
	csc credentials/authorize "{\"credentialID\":\"$2\",\"numSignatures\":${4:-1},\"authData\":[{\"id\":\"PIN\",\"value\":\"$3\"}]}" "$1"
	assert_status 200 "authorize $2"
	jget SAD
}
# sign TOKEN CRED SAD HASHES_JSON [SIGNALGO]
sign() {
	csc signatures/signHash "{\"credentialID\":\"$2\",\"SAD\":\"$3\",\"hashes\":$4,\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"${5:-$OID_ES256}\"}" "$1"
}

# ---------------------------------------------------------------- HTTP level
step "unknown method, wrong HTTP method, malformed JSON, oversized bodies"
csc credentials/nothing '{}' "$ERIN"
assert_error 404 invalid_request
out=$(curl -sS --cacert "$CISRES_CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ERIN" \
	"${CISRES_URL}credentials/list")
assert_eq "$out" 405 "GET credentials/list"
csc credentials/list '{"credentialInfo":' "$ERIN"
assert_error 400 invalid_request "Malformed JSON body"
csc credentials/list '[1,2]' "$ERIN"
assert_error 400 invalid_request "Malformed JSON body"
csc credentials/list '{"a":1} trailing' "$ERIN"
assert_error 400 invalid_request "Malformed JSON body"
"$PY" -c 'import sys; sys.stdout.write("{\"x\":\"" + "a" * (1024 * 1024 + 10) + "\"}")' >"$W/big.json"
for mode in length chunked; do
	hdr=()
	[ "$mode" = chunked ] && hdr=(-H 'Transfer-Encoding: chunked')
	out=$(curl -sS --cacert "$CISRES_CA" -H 'Content-Type: application/json' "${hdr[@]}" \
		-H "Authorization: Bearer $ERIN" --data-binary @"$W/big.json" -w '\n%{http_code}' \
		"${CISRES_URL}credentials/list") || fail "curl (oversized, $mode)"
	CSC_STATUS=${out##*$'\n'}
	CSC_BODY=${out%$'\n'*}
	assert_error 413 invalid_request "Request body too large (limit 1048576 bytes)"
done
head -c 70000 /dev/zero >"$W/big.tsq"
out=$(curl -sS --cacert "$CISRES_CA" -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/timestamp-query' --data-binary @"$W/big.tsq" "$CISRES_BASE/tsa")
assert_eq "$out" 413 "/tsa body over 64 KiB"
out=$(curl -sS --cacert "$CISRES_CA" -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/json' --data-binary '{}' "$CISRES_BASE/tsa")
assert_eq "$out" 415 "/tsa with the wrong content type"

# ---------------------------------------------------------------- tokens
step "bearer token problems"
csc credentials/list '{}'
assert_error 401 invalid_token
csc credentials/list '{}' "$(head -c 129 /dev/zero | tr '\0' a)"
assert_error 401 invalid_token
csc credentials/list '{}' "not-a-real-token"
assert_error 401 invalid_token
out=$(curl -sS --cacert "$CISRES_CA" -H "Authorization: bearer $ERIN" -d '{}' \
	-w '\n%{http_code}' "${CISRES_URL}credentials/list")
assert_eq "${out##*$'\n'}" 401 "lower-case scheme"
out=$(curl -sS --cacert "$CISRES_CA" -u "erin:$ERIN_PW" -d '{}' -w '\n%{http_code}' \
	"${CISRES_URL}credentials/list")
assert_eq "${out##*$'\n'}" 401 "Basic credentials on a Bearer method"

step "revoked and expired access tokens"
T=$(login erin "$ERIN_PW")
csc auth/revoke "{\"token\":\"$T\",\"token_type_hint\":\"access_token\"}" "$T"
assert_status 204 "revoke"
csc credentials/list '{}' "$T"
assert_error 401 invalid_token
csc credentials/list '{}' "$ERIN"
assert_status 200 "another access token of the same user still works"
csc auth/revoke '{}' "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) string parameter token"
csc auth/revoke '{"token":"abcdef"}' "$ERIN"
assert_error 400 invalid_request "Invalid parameter token"
csc auth/revoke "{\"token\":\"$FRANK\"}" "$ERIN"
assert_error 400 invalid_request "Invalid parameter token"
csc credentials/list '{}' "$FRANK"
assert_status 200 "revoking another user's token changed nothing"
IVAN=$(login ivan 'ivan-Pw-5555')
sqlite3 -cmd '.timeout 5000' "$DB" \
	"UPDATE tokens SET expires = 1 WHERE kind = 1 AND user_id = (SELECT id FROM users WHERE name = 'ivan');"
csc credentials/list '{}' "$IVAN"
assert_error 401 expired_token

# ---------------------------------------------------------------- login
step "auth/login failures, account lockout, OTP in the Basic password"
csc_basic erin wrong-password '{}'
assert_error 400 authentication_error
csc_basic nobody "$ERIN_PW" '{}'
assert_error 400 authentication_error
out=$(curl -sS --cacert "$CISRES_CA" -H 'Authorization: Basic %%%notbase64' -d '{}' \
	-w '\n%{http_code}' "${CISRES_URL}auth/login")
CSC_STATUS=${out##*$'\n'}
CSC_BODY=${out%$'\n'*}
assert_error 400 invalid_request
csc auth/login '{}'
assert_error 400 invalid_request
csc auth/login '{"refresh_token":"not-a-token"}'
assert_error 400 authentication_error
for i in 1 2 3 4 5; do
	csc_basic hank "wrong-$i" '{}'
	assert_status 400 "wrong password $i"
done
csc_basic hank 'hank-Pw-4444' '{}'
assert_error 400 authentication_error "Account locked"
must admin user unlock hank >/dev/null
csc_basic hank 'hank-Pw-4444' '{}'
assert_status 200 "login after unlock"
csc_basic jane 'jane-Pw-6666' '{}'
assert_error 400 authentication_error
totp_settle
csc_basic jane "jane-Pw-6666$(totp "$JANE_OTP")" '{}'
assert_status 200 "login with password + TOTP"

# ---------------------------------------------------------------- parameters
step "parameter errors: credentials/list, info"
csc credentials/list '{"certificates":"all"}' "$ERIN"
assert_error 400 invalid_request "Invalid parameter certificates"
csc credentials/list '{"credentialInfo":"yes"}' "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) boolean parameter credentialInfo"
csc credentials/list '{"userID":"frank"}' "$ERIN"
assert_error 400 invalid_request "Invalid parameter userID"
csc credentials/info '{}' "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) string parameter credentialID"
csc credentials/info '{"credentialID":42}' "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) string parameter credentialID"
csc credentials/info '{"credentialID":"0000"}' "$ERIN"
assert_error 400 invalid_request "Invalid parameter credentialID"

step "parameter errors: credentials/authorize"
auth_err() { # JSON-FRAGMENT DESCRIPTION
	csc credentials/authorize "{\"credentialID\":\"$E1\",$1}" "$ERIN"
	assert_error 400 invalid_request "$2"
}
auth_err '"authData":[{"id":"PIN","value":"1111"}]' \
	"Missing (or invalid type) integer parameter numSignatures"
auth_err '"numSignatures":"1","authData":[{"id":"PIN","value":"1111"}]' \
	"Missing (or invalid type) integer parameter numSignatures"
auth_err '"numSignatures":0,"authData":[{"id":"PIN","value":"1111"}]' \
	"Invalid parameter numSignatures"
auth_err '"numSignatures":4,"authData":[{"id":"PIN","value":"1111"}]' \
	"Invalid parameter numSignatures"
auth_err "\"numSignatures\":1,\"hashes\":[\"$H1\"],\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Missing (or invalid type) string parameter hashAlgorithmOID"
auth_err "\"numSignatures\":1,\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"1.2.3.4\",\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Invalid parameter hashAlgorithmOID"
auth_err "\"numSignatures\":1,\"hashes\":[\"$H20\"],\"hashAlgorithmOID\":\"1.3.14.3.2.26\",\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Invalid parameter hashAlgorithmOID"
auth_err "\"numSignatures\":1,\"hashes\":[\"@@not base64@@\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Invalid Base64 hash string"
auth_err "\"numSignatures\":1,\"hashes\":[\"$H20\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Invalid digest value length"
auth_err "\"numSignatures\":2,\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Invalid parameter numSignatures (must equal the number of hashes)"
auth_err '"numSignatures":1,"authData":[{"id":"FINGERPRINT","value":"x"}]' \
	"Invalid parameter authData.id"
auth_err '"numSignatures":1,"authData":"1111"' \
	"Missing (or invalid type) array parameter authData"
auth_err '"numSignatures":1,"authData":[]' "Missing PIN in authData"
auth_err "\"numSignatures\":1,\"description\":\"$(head -c 501 /dev/zero | tr '\0' d)\",\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]" \
	"Invalid parameter description"

step "authorizeCheck: no pending authorization exists"
csc credentials/authorizeCheck '{"handle":"anything"}' "$ERIN"
assert_error 400 invalid_request "Invalid parameter handle"
csc credentials/authorizeCheck '{}' "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) string parameter handle"

step "parameter errors: signatures/signHash"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 3)
sign_err() { # CRED JSON-FRAGMENT DESCRIPTION
	csc signatures/signHash "{\"credentialID\":\"$1\",$2}" "$ERIN"
	assert_error 400 invalid_request "$3"
}
sign_err "$E1" "\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_ES256\"" \
	"Missing (or invalid type) string parameter SAD"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\"" \
	"Missing (or invalid type) string parameter signAlgo"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"1.2.3.4.5\"" \
	"Invalid parameter signAlgo"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_RSA_SHA256\"" \
	"Invalid parameter signAlgo"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H20\"],\"signAlgo\":\"1.2.840.10045.4.1\"" \
	"Invalid parameter signAlgo"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA384\",\"signAlgo\":\"$OID_ES256\"" \
	"Invalid parameter hashAlgorithmOID"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H384\"],\"signAlgo\":\"$OID_ES256\"" \
	"Invalid digest value length"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"QUJD=\"],\"signAlgo\":\"$OID_ES256\"" \
	"Invalid Base64 hash string"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[],\"signAlgo\":\"$OID_ES256\"" \
	"Invalid parameter hashes"
sign_err "$E1" "\"SAD\":\"$SAD\",\"signAlgo\":\"$OID_ES256\"" \
	"Missing (or invalid type) array parameter hashes"
sign_err "$E1" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"signAlgo\":\"$OID_ES256\",\"operationMode\":\"A\"" \
	"Invalid parameter operationMode"
sign_err "$ER" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_PSS\"" \
	"Missing (or invalid type) string parameter signAlgoParams"
sign_err "$ER" "\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"signAlgo\":\"$OID_PSS\",\"signAlgoParams\":\"AAAA\"" \
	"Invalid parameter signAlgoParams"
sign_err "$E1" "\"SAD\":\"not-a-SAD\",\"hashes\":[\"$H1\"],\"signAlgo\":\"$OID_ES256\"" \
	"Invalid SAD"
step "every refused signHash left the SAD intact (3 uses)"
sign "$ERIN" "$E1" "$SAD" "[\"$H1\",\"$H2\",\"$H1\"]"
assert_status 200 "3 signatures with the SAD after the refusals"

step "parameter errors: signatures/timestamp"
csc signatures/timestamp "{\"hash\":\"$H1\",\"hashAlgo\":\"1.2.3\"}" "$ERIN"
assert_error 400 invalid_request "Invalid parameter hashAlgo"
csc signatures/timestamp "{\"hash\":\"$H1\"}" "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) string parameter hashAlgo"
csc signatures/timestamp "{\"hash\":\"$H384\",\"hashAlgo\":\"$OID_SHA256\"}" "$ERIN"
assert_error 400 invalid_request "Invalid digest value length"
csc signatures/timestamp "{\"hash\":\"$H1\",\"hashAlgo\":\"$OID_SHA256\",\"nonce\":\"xyz\"}" "$ERIN"
assert_error 400 invalid_request "Invalid parameter nonce"

# ---------------------------------------------------------------- isolation
step "another signer's credential: list, info, authorize, signHash"
csc credentials/list '{}' "$FRANK"
assert_not_contains "$CSC_BODY" "$E1" "frank's list"
assert_contains "$CSC_BODY" "$F1" "frank's list"
csc credentials/info "{\"credentialID\":\"$E1\"}" "$FRANK"
assert_error 400 invalid_request "Invalid parameter credentialID"
csc credentials/authorize "{\"credentialID\":\"$E1\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"1111\"}]}" "$FRANK"
assert_error 400 invalid_request "Invalid parameter credentialID"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 1)
sign "$FRANK" "$E1" "$SAD" "[\"$H1\"]"
assert_error 400 invalid_request "Invalid parameter credentialID"
sign "$FRANK" "$F1" "$SAD" "[\"$H1\"]"
assert_error 400 invalid_request "Invalid SAD"
SADF=$(authorize_pin "$FRANK" "$F1" 5555 1)
sign "$ERIN" "$E1" "$SADF" "[\"$H1\"]"
assert_error 400 invalid_request "Invalid SAD"
sign "$ERIN" "$E1" "$SAD" "[\"$H1\"]"
assert_status 200 "erin's SAD still works for erin"
sign "$FRANK" "$F1" "$SADF" "[\"$H1\"]"
assert_status 200 "frank's SAD still works for frank"

# ---------------------------------------------------------------- SADs
step "single-use SAD used twice"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 1)
sign "$ERIN" "$E1" "$SAD" "[\"$H1\"]"
assert_status 200 "first use"
sign "$ERIN" "$E1" "$SAD" "[\"$H1\"]"
assert_error 400 invalid_request "Invalid SAD"

step "single-use SAD used by 8 concurrent requests: exactly one signature"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 1)
body="{\"credentialID\":\"$E1\",\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_ES256\"}"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS --cacert "$CISRES_CA" -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $ERIN" --data-binary "$body" -o "$W/par.$i" \
		-w '%{http_code}' "${CISRES_URL}signatures/signHash" >"$W/par.$i.code" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent curl failed"; done
ok=0
bad=0
for i in 1 2 3 4 5 6 7 8; do
	case $(cat "$W/par.$i.code") in
	200) ok=$((ok + 1)) ;;
	400) bad=$((bad + 1)) ;;
	*) fail "concurrent request $i: HTTP $(cat "$W/par.$i.code")" ;;
	esac
done
assert_eq "$ok/$bad" "1/7" "successes/refusals of one single-use SAD"

step "more signatures than authorized"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 1)
sign "$ERIN" "$E1" "$SAD" "[\"$H1\",\"$H2\"]"
assert_error 400 invalid_request "numSignatures too high"
sign "$ERIN" "$E1" "$SAD" "[\"$H2\"]"
assert_status 200 "the refused call spent nothing"

step "expired SAD"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 1)
sleep $((SAD_TTL + 1))
sign "$ERIN" "$E1" "$SAD" "[\"$H1\"]"
assert_error 400 invalid_request "SAD expired"

step "extendTransaction: the old SAD is spent, the new one carries the count"
SAD=$(authorize_pin "$ERIN" "$E1" 1111 2)
csc credentials/extendTransaction "{\"credentialID\":\"$E1\",\"SAD\":\"$SAD\"}" "$ERIN"
assert_status 200 "extendTransaction"
SAD2=$(jget SAD)
assert_ne "$SAD2" "$SAD" "a new SAD"
sign "$ERIN" "$E1" "$SAD" "[\"$H1\"]"
assert_error 400 invalid_request "Invalid SAD"
sign "$ERIN" "$E1" "$SAD2" "[\"$H1\",\"$H2\"]"
assert_status 200 "two signatures with the extended SAD"
csc credentials/extendTransaction "{\"credentialID\":\"$E1\",\"SAD\":\"$SAD2\"}" "$ERIN"
assert_error 400 invalid_request "Invalid SAD"
csc credentials/extendTransaction "{\"credentialID\":\"$E1\"}" "$ERIN"
assert_error 400 invalid_request "Missing (or invalid type) string parameter SAD"

# ---------------------------------------------------------------- SCAL2, OTP
step "SCAL2: authorize without hashes"
csc credentials/authorize "{\"credentialID\":\"$G2\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"6666\"},{\"id\":\"OTP\",\"value\":\"000000\"}]}" "$GINA"
assert_error 400 invalid_request "Missing (or invalid type) array parameter hashes"

step "wrong, missing and reused OTP"
csc credentials/authorize "{\"credentialID\":\"$G2\",\"numSignatures\":1,\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"6666\"}]}" "$GINA"
assert_error 400 invalid_otp
csc credentials/authorize "{\"credentialID\":\"$G2\",\"numSignatures\":1,\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"6666\"},{\"id\":\"OTP\",\"value\":\"$(totp "$GINA_OTP" 5)\"}]}" "$GINA"
assert_error 400 invalid_otp
totp_settle
OTP=$(totp "$GINA_OTP")
csc credentials/authorize "{\"credentialID\":\"$G2\",\"numSignatures\":1,\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"6666\"},{\"id\":\"OTP\",\"value\":\"$OTP\"}]}" "$GINA"
assert_status 200 "authorize with PIN + OTP"
SAD=$(jget SAD)
csc credentials/authorize "{\"credentialID\":\"$G2\",\"numSignatures\":1,\"hashes\":[\"$H2\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"6666\"},{\"id\":\"OTP\",\"value\":\"$OTP\"}]}" "$GINA"
assert_error 400 invalid_otp

step "SCAL2: the SAD for H refuses H', then signs H"
sign "$GINA" "$G2" "$SAD" "[\"$H2\"]"
assert_error 400 invalid_request "Hash is not authorized by the SAD"
sign "$GINA" "$G2" "$SAD" "[\"$H1\",\"$H2\"]"
assert_status 400 "H plus H'"
sign "$GINA" "$G2" "$SAD" "[\"$H1\"]"
assert_status 200 "the authorized hash"

step "wrong PIN; five wrong PINs lock the credential"
csc credentials/authorize "{\"credentialID\":\"$EL\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"0000\"}]}" "$ERIN"
assert_error 400 invalid_pin
for i in 2 3 4 5; do
	csc credentials/authorize "{\"credentialID\":\"$EL\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"000$i\"}]}" "$ERIN"
	assert_status 400 "wrong PIN $i"
done
csc credentials/authorize "{\"credentialID\":\"$EL\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"3333\"}]}" "$ERIN"
assert_error 400 invalid_request "PIN locked"
must admin credential unlock "$EL" >/dev/null
authorize_pin "$ERIN" "$EL" 3333 >/dev/null

step "a disabled credential"
must admin credential disable "$F1" >/dev/null
csc credentials/authorize "{\"credentialID\":\"$F1\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"5555\"}]}" "$FRANK"
assert_error 400 invalid_request "Credential disabled"
csc credentials/info "{\"credentialID\":\"$F1\"}" "$FRANK"
assert_eq "$(jget key.status)" disabled "key.status of a disabled credential"
csc credentials/list '{"onlyValid":true}' "$FRANK"
assert_not_contains "$CSC_BODY" "$F1" "onlyValid hides a disabled credential"

# ---------------------------------------------------------------- secrets, audit
step "no secret in the server log"
log=$(cat "$CISRES_TMP/server.log")
for s in "$ERIN" "$FRANK" "$SAD" "$ERIN_PW" "$OTP"; do
	assert_not_contains "$log" "$s" "server log"
done

step "the audit log verifies, and an edited record is detected"
must admin audit verify >/dev/null
sqlite3 -cmd '.timeout 5000' "$DB" "DROP TRIGGER IF EXISTS audit_no_update;
	UPDATE audit SET outcome = 'tampered' WHERE seq = (SELECT MIN(seq) + 3 FROM audit);"
if admin audit verify >"$W/verify.out" 2>&1; then
	fail "cisres-admin audit verify accepted an edited record"
fi
