#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CSC API happy path against a real cisresd: info, login, credential
# listing, PIN+TOTP authorization, signHash with every algorithm for an EC
# P-256 and an RSA-2048 key (each signature verified by OpenSSL against the
# certificate the server returned, and that certificate against the CA
# chain), signatures/timestamp and RFC 3161 over /tsa.
. "$(dirname "$0")/lib.sh"

command -v oathtool >/dev/null || fail "oathtool is required"
cisres_start_server
W=$CISRES_TMP/work
mkdir -p "$W"

OID_SHA256=2.16.840.1.101.3.4.2.1
OID_SHA384=2.16.840.1.101.3.4.2.2
OID_SHA512=2.16.840.1.101.3.4.2.3
OID_RSA=1.2.840.113549.1.1.1
OID_RSA_SHA256=1.2.840.113549.1.1.11
OID_RSA_SHA384=1.2.840.113549.1.1.12
OID_RSA_SHA512=1.2.840.113549.1.1.13
OID_PSS=1.2.840.113549.1.1.10
OID_ES256=1.2.840.10045.4.3.2
OID_ES384=1.2.840.10045.4.3.3
OID_ES512=1.2.840.10045.4.3.4
OID_P256=1.2.840.10045.3.1.7
# RSASSA-PSS-params: SHA-256 / MGF1-SHA-256 / salt 32, SHA-512 / MGF1-SHA-512 / salt 64
PSS_SHA256=MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEFAKIDAgEg
PSS_SHA512=MDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgMFAKIDAgFA

# ---------------------------------------------------------------- info
step "info (POST and GET)"
csc info '{}'
assert_status 200 info
assert_eq "$(jget specs)" "2.0.0.2" "info.specs"
assert_eq "$(jget authType)" '["basic"]' "info.authType"
for f in name logo region lang description; do
	[ -n "$(jget "$f")" ] || fail "info.$f missing"
done
methods=$(jget methods)
for m in auth/login auth/revoke credentials/list credentials/info credentials/authorize \
	credentials/extendTransaction signatures/signHash signatures/timestamp; do
	assert_contains "$methods" "\"$m\"" "info.methods"
done
algos=$(jget signAlgorithms.algos)
for a in $OID_RSA $OID_RSA_SHA256 $OID_RSA_SHA384 $OID_RSA_SHA512 $OID_PSS $OID_ES256 \
	$OID_ES384 $OID_ES512; do
	assert_contains "$algos" "\"$a\"" "info.signAlgorithms.algos"
done
assert_not_contains "$algos" '"1.2.840.113549.1.1.5"' "no SHA-1 algorithm offered"
assert_eq "$(jget signature_formats.formats)" '[]' "info.signature_formats"
assert_eq "$(jget conformance_levels)" '[]' "info.conformance_levels"
get=$(curl -sS --cacert "$CISRES_CA" "${CISRES_URL}info")
assert_eq "$(json_get "$get" specs)" "2.0.0.2" "GET info"

step "health and metrics"
assert_eq "$(curl -sS --cacert "$CISRES_CA" "$CISRES_BASE/health")" ok "/health"
metrics=$(curl -sS --cacert "$CISRES_CA" "$CISRES_BASE/metrics")
assert_contains "$metrics" 'cisres_http_requests_total{code="200"}' "/metrics"
assert_contains "$metrics" 'cisres_http_request_duration_seconds_count' "/metrics"

# ---------------------------------------------------------------- enrollment
step "enroll signers and credentials"
ALICE_PW='alice-Pw-1234'
BOB_PW='bob-Pw-5678'
CAROL_PW='carol-Pw-9012'
DAVE_PW='dave-Pw-3456'
ALICE_OTP=$(enroll_user alice "$ALICE_PW")
BOB_OTP=$(enroll_user bob "$BOB_PW")
CAROL_OTP=$(enroll_user carol "$CAROL_PW")
DAVE_OTP=$(enroll_user dave "$DAVE_PW")
# SCAL1 credentials with several uses per authorization: every algorithm
# with one TOTP code per signer (a code is accepted once).
EC1=$(enroll_cred alice 123456 --key ec-p256 --scal 1 --auth pin+otp --multisign 5)
RSA1=$(enroll_cred bob 654321 --key rsa-2048 --scal 1 --auth pin+otp --multisign 10)
# A PIN-only credential (SCAL1 only: SCAL2 needs two factors).
EC3=$(enroll_cred alice 778899 --key ec-p256 --scal 1 --auth pin)
# SCAL2 credentials (PIN AND OTP): the SAD is bound to the hashes.
EC2=$(enroll_cred carol 112233 --key ec-p256)
RSA2=$(enroll_cred dave 445566 --key rsa-2048 --scal 2 --auth pin+otp --multisign 2)

# ---------------------------------------------------------------- login
step "auth/login with Basic, rememberMe, then with the refresh token"
csc_basic alice "$ALICE_PW" '{"rememberMe":true}'
assert_status 200 "login alice"
ALICE_TOK=$(jget access_token)
ALICE_REFRESH=$(jget refresh_token)
[ -n "$ALICE_TOK" ] && [ -n "$ALICE_REFRESH" ] || fail "tokens missing"
[ "$(jget expires_in)" -gt 0 ] || fail "expires_in"
csc auth/login "{\"refresh_token\":\"$ALICE_REFRESH\",\"rememberMe\":true}"
assert_status 200 "login with refresh_token"
ALICE_TOK2=$(jget access_token)
ALICE_REFRESH2=$(jget refresh_token)
assert_ne "$ALICE_TOK2" "$ALICE_TOK" "a new access token"
csc_basic alice "$ALICE_PW" '{}'
assert_status 200 "login without rememberMe"
[ -z "$(jget refresh_token)" ] || fail "refresh_token returned without rememberMe"
BOB_TOK=$(login bob "$BOB_PW")
CAROL_TOK=$(login carol "$CAROL_PW")
DAVE_TOK=$(login dave "$DAVE_PW")

# ---------------------------------------------------------------- list / info
step "credentials/list"
csc credentials/list '{}' "$ALICE_TOK2"
assert_status 200 list
ids=$(jget credentialIDs)
assert_contains "$ids" "\"$EC1\"" "alice's list"
assert_contains "$ids" "\"$EC3\"" "alice's list"
assert_not_contains "$ids" "\"$EC2\"" "alice's list has no other user's credential"
[ -z "$(jget credentialInfos)" ] || fail "credentialInfos without credentialInfo=true"
csc credentials/list '{"credentialInfo":true,"certificates":"chain","certInfo":true,"authInfo":true,"onlyValid":true}' "$ALICE_TOK2"
assert_status 200 "list with infos"
assert_eq "$(jget onlyValid)" true "onlyValid echoed"
n=$(json_get "$CSC_BODY" credentialInfos | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$n" 2 "two credentialInfos"
[ -n "$(jget credentialInfos.0.credentialID)" ] || fail "credentialInfos[].credentialID"
assert_eq "$(json_get "$(jget credentialInfos.0.cert.certificates)" '' |
	"$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" 3 "chain of 3"

# check_info ID TOKEN KIND: credentials/info checks; leaves the EE cert in $W/ID.pem
check_info() {
	local id=$1 tok=$2 kind=$3
	csc credentials/info "{\"credentialID\":\"$id\",\"certificates\":\"chain\",\"certInfo\":true,\"authInfo\":true}" "$tok"
	assert_status 200 "credentials/info $id"
	assert_eq "$(jget key.status)" enabled "key.status"
	assert_eq "$(jget cert.status)" valid "cert.status"
	assert_eq "$(jget auth.mode)" explicit "auth.mode"
	assert_eq "$(jget auth.objects.0.id)" PIN "auth.objects[0].id"
	assert_eq "$(jget auth.objects.0.type)" Password "auth.objects[0].type"
	assert_eq "$(jget auth.objects.0.format)" N "auth.objects[0].format"
	[[ "$(jget cert.validFrom)" =~ ^[0-9]{14}Z$ ]] || fail "cert.validFrom format"
	[[ "$(jget cert.validTo)" =~ ^[0-9]{14}Z$ ]] || fail "cert.validTo format"
	[[ "$(jget cert.serialNumber)" =~ ^[0-9A-Fa-f]+$ ]] || fail "cert.serialNumber hex"
	assert_contains "$(jget cert.issuerDN)" "CN=" "cert.issuerDN"
	assert_contains "$(jget cert.subjectDN)" "CN=" "cert.subjectDN"
	[ -n "$(jget lang)" ] || fail "lang"
	if [ "$kind" = ec ]; then
		assert_eq "$(jget key.curve)" "$OID_P256" "key.curve"
		assert_eq "$(jget key.len)" 256 "key.len"
		assert_eq "$(jget key.algo)" "[\"$OID_ES256\",\"$OID_ES384\",\"$OID_ES512\"]" "EC key.algo"
	else
		[ -z "$(jget key.curve)" ] || fail "RSA key has no curve"
		assert_eq "$(jget key.len)" 2048 "key.len"
		assert_eq "$(jget key.algo)" "[\"$OID_RSA\",\"$OID_RSA_SHA256\",\"$OID_RSA_SHA384\",\"$OID_RSA_SHA512\",\"$OID_PSS\"]" "RSA key.algo"
	fi
	cert_pem_from_b64 "$(jget cert.certificates.0)" "$W/$id.pem"
	cert_pem_from_b64 "$(jget cert.certificates.1)" "$W/$id.issuing.pem"
	cert_pem_from_b64 "$(jget cert.certificates.2)" "$W/$id.root.pem"
	assert_eq "$(openssl x509 -in "$W/$id.issuing.pem" -noout -fingerprint -sha256)" \
		"$(openssl x509 -in "$CISRES_STATE/ca/issuing.pem" -noout -fingerprint -sha256)" \
		"chain[1] is the issuing CA"
	assert_eq "$(openssl x509 -in "$W/$id.root.pem" -noout -fingerprint -sha256)" \
		"$(openssl x509 -in "$CISRES_STATE/ca/root.pem" -noout -fingerprint -sha256)" \
		"chain[2] is the root CA"
	openssl verify -CAfile "$CISRES_CA" "$W/$id.pem" >/dev/null ||
		fail "openssl verify of the certificate of $id"
}

step "credentials/info (EC P-256, SCAL2, PIN AND OTP)"
check_info "$EC2" "$CAROL_TOK" ec
assert_eq "$(jget SCAL)" 2 "SCAL"
assert_eq "$(jget signatureQualifier)" eu_eidas_qes "signatureQualifier"
assert_eq "$(jget auth.expression)" "PIN AND OTP" "auth.expression"
assert_eq "$(jget auth.objects.1.id)" OTP "auth.objects[1].id"
assert_eq "$(jget auth.objects.1.generator)" totp "auth.objects[1].generator"
assert_eq "$(jget multisign)" 1 "multisign"

step "credentials/info (RSA-2048, SCAL2, multisign 2)"
check_info "$RSA2" "$DAVE_TOK" rsa
assert_eq "$(jget SCAL)" 2 "SCAL"
assert_eq "$(jget multisign)" 2 "multisign"

step "credentials/info (EC P-256, SCAL1, PIN only)"
check_info "$EC3" "$ALICE_TOK2" ec
assert_eq "$(jget auth.expression)" "PIN" "auth.expression"
[ -z "$(jget auth.objects.1)" ] || fail "no OTP object for a PIN-only credential"

step "credentials/info (SCAL1 credentials)"
check_info "$EC1" "$ALICE_TOK2" ec
assert_eq "$(jget SCAL)" 1 "SCAL"
[ -z "$(jget signatureQualifier)" ] || fail "no QES qualifier for SCAL1"
check_info "$RSA1" "$BOB_TOK" rsa

# ---------------------------------------------------------------- signing
# verify CERT DGSTFILE SIGFILE [pkeyutl options...]
verify() {
	local cert=$1 dg=$2 sig=$3
	shift 3
	openssl pkeyutl -verify -certin -inkey "$cert" -in "$dg" -sigfile "$sig" "$@" >/dev/null 2>&1
}

# sign_verify TOKEN CRED SAD SIGNALGO HASH(sha256..) [PARAMS_B64 [PSS_SALT]]
sign_verify() {
	local tok=$1 cred=$2 sad=$3 algo=$4 h=$5 params=${6:-} salt=${7:-} hoid extra=""
	local data=$W/data.$RANDOM dg sig
	head -c 1000 /dev/urandom >"$data"
	openssl dgst "-$h" -binary "$data" >"$data.dg"
	case $h in sha256) hoid=$OID_SHA256 ;; sha384) hoid=$OID_SHA384 ;; sha512) hoid=$OID_SHA512 ;; esac
	[ -n "$params" ] && extra=",\"signAlgoParams\":\"$params\""
	csc signatures/signHash "{\"credentialID\":\"$cred\",\"SAD\":\"$sad\",\"hashes\":[\"$(b64 "$data.dg")\"],\"hashAlgorithmOID\":\"$hoid\",\"signAlgo\":\"$algo\"$extra}" "$tok"
	assert_status 200 "signHash $algo/$h"
	jget signatures.0 | unb64 >"$data.sig"
	local -a opts=()
	case $algo in
	"$OID_ES256" | "$OID_ES384" | "$OID_ES512") ;;
	"$OID_PSS")
		opts=(-pkeyopt "digest:$h" -pkeyopt rsa_padding_mode:pss
			-pkeyopt "rsa_pss_saltlen:$salt" -pkeyopt "rsa_mgf1_md:$h") ;;
	*) opts=(-pkeyopt "digest:$h") ;;
	esac
	verify "$W/$cred.pem" "$data.dg" "$data.sig" "${opts[@]}" ||
		fail "signature ($algo, $h) does not verify"
	# and a different digest must not verify (the check itself works)
	openssl dgst "-$h" -binary "$CISRES_CA" >"$data.other"
	if verify "$W/$cred.pem" "$data.other" "$data.sig" "${opts[@]}"; then
		fail "signature verifies over a different digest"
	fi
}

step "EC P-256 PIN only: authorize (SCAL1), ES256"
csc credentials/authorize "{\"credentialID\":\"$EC3\",\"numSignatures\":1,\"authData\":[{\"id\":\"PIN\",\"value\":\"778899\"}]}" "$ALICE_TOK2"
assert_status 200 "authorize EC3"
sign_verify "$ALICE_TOK2" "$EC3" "$(jget SAD)" "$OID_ES256" sha256

step "EC P-256: authorize (PIN + TOTP, SCAL1, 3 signatures), ES256/384/512"
totp_settle
csc credentials/authorize "{\"credentialID\":\"$EC1\",\"numSignatures\":3,\"authData\":[{\"id\":\"PIN\",\"value\":\"123456\"},{\"id\":\"OTP\",\"value\":\"$(totp "$ALICE_OTP")\"}]}" "$ALICE_TOK2"
assert_status 200 "authorize EC1"
SAD=$(jget SAD)
[ "$(jget expiresIn)" -gt 0 ] || fail "expiresIn"
sign_verify "$ALICE_TOK2" "$EC1" "$SAD" "$OID_ES256" sha256
sign_verify "$ALICE_TOK2" "$EC1" "$SAD" "$OID_ES384" sha384
sign_verify "$ALICE_TOK2" "$EC1" "$SAD" "$OID_ES512" sha512

step "RSA-2048: authorize (PIN + TOTP, SCAL1, 6 signatures), PKCS#1 v1.5 and PSS"
totp_settle
csc credentials/authorize "{\"credentialID\":\"$RSA1\",\"numSignatures\":6,\"authData\":[{\"id\":\"PIN\",\"value\":\"654321\"},{\"id\":\"OTP\",\"value\":\"$(totp "$BOB_OTP")\"}]}" "$BOB_TOK"
assert_status 200 "authorize RSA1"
SAD=$(jget SAD)
sign_verify "$BOB_TOK" "$RSA1" "$SAD" "$OID_RSA" sha256
sign_verify "$BOB_TOK" "$RSA1" "$SAD" "$OID_RSA_SHA256" sha256
sign_verify "$BOB_TOK" "$RSA1" "$SAD" "$OID_RSA_SHA384" sha384
sign_verify "$BOB_TOK" "$RSA1" "$SAD" "$OID_RSA_SHA512" sha512
sign_verify "$BOB_TOK" "$RSA1" "$SAD" "$OID_PSS" sha256 "$PSS_SHA256" 32
sign_verify "$BOB_TOK" "$RSA1" "$SAD" "$OID_PSS" sha512 "$PSS_SHA512" 64

step "EC P-256 SCAL2: authorize bound to the hash (PIN + TOTP), signHash"
head -c 500 /dev/urandom >"$W/doc"
H=$(digest_b64 sha256 "$W/doc")
openssl dgst -sha256 -binary "$W/doc" >"$W/doc.dg"
totp_settle
csc credentials/authorize "{\"credentialID\":\"$EC2\",\"numSignatures\":1,\"hashes\":[\"$H\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"112233\"},{\"id\":\"OTP\",\"value\":\"$(totp "$CAROL_OTP")\"}],\"description\":\"test document\"}" "$CAROL_TOK"
assert_status 200 "authorize EC2"
SAD=$(jget SAD)
csc signatures/signHash "{\"credentialID\":\"$EC2\",\"SAD\":\"$SAD\",\"hashes\":[\"$H\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_ES256\",\"operationMode\":\"S\"}" "$CAROL_TOK"
assert_status 200 "signHash EC2"
jget signatures.0 | unb64 >"$W/doc.sig"
verify "$W/$EC2.pem" "$W/doc.dg" "$W/doc.sig" || fail "EC2 signature does not verify"

step "RSA-2048 SCAL2: two hashes in one authorization and one signHash (PSS)"
head -c 300 /dev/urandom >"$W/a"
head -c 300 /dev/urandom >"$W/b"
HA=$(digest_b64 sha256 "$W/a")
HB=$(digest_b64 sha256 "$W/b")
totp_settle
csc credentials/authorize "{\"credentialID\":\"$RSA2\",\"numSignatures\":2,\"hashes\":[\"$HA\",\"$HB\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"445566\"},{\"id\":\"OTP\",\"value\":\"$(totp "$DAVE_OTP")\"}]}" "$DAVE_TOK"
assert_status 200 "authorize RSA2"
SAD=$(jget SAD)
csc signatures/signHash "{\"credentialID\":\"$RSA2\",\"SAD\":\"$SAD\",\"hashes\":[\"$HA\",\"$HB\"],\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_PSS\",\"signAlgoParams\":\"$PSS_SHA256\"}" "$DAVE_TOK"
assert_status 200 "signHash RSA2"
for x in a b; do
	i=0
	[ "$x" = b ] && i=1
	openssl dgst -sha256 -binary "$W/$x" >"$W/$x.dg"
	jget "signatures.$i" | unb64 >"$W/$x.sig"
	verify "$W/$RSA2.pem" "$W/$x.dg" "$W/$x.sig" -pkeyopt digest:sha256 \
		-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 \
		-pkeyopt rsa_mgf1_md:sha256 || fail "RSA2 signature $x does not verify"
done

# ---------------------------------------------------------------- time-stamps
step "signatures/timestamp, verified with openssl ts"
TSA_CERT=$CISRES_STATE/ca/tsa.pem
csc signatures/timestamp "{\"hash\":\"$H\",\"hashAlgo\":\"$OID_SHA256\",\"nonce\":\"0a1b2c3d4e5f6071\"}" "$CAROL_TOK"
assert_status 200 "signatures/timestamp"
jget timestamp | unb64 >"$W/doc.tst"
openssl ts -verify -data "$W/doc" -in "$W/doc.tst" -token_in -CAfile "$CISRES_CA" \
	-untrusted "$TSA_CERT" >/dev/null 2>&1 || fail "openssl ts -verify of the CSC time-stamp"
assert_contains "$(openssl ts -reply -in "$W/doc.tst" -token_in -text 2>/dev/null)" \
	"0x0A1B2C3D4E5F6071" "nonce in the token"
head -c 10 /dev/urandom >>"$W/doc"
if openssl ts -verify -data "$W/doc" -in "$W/doc.tst" -token_in -CAfile "$CISRES_CA" \
	-untrusted "$TSA_CERT" >/dev/null 2>&1; then
	fail "time-stamp verifies over other data"
fi

step "RFC 3161 over HTTP: POST $CISRES_BASE/tsa"
printf 'time-stamp me\n' >"$W/tsdata"
openssl ts -query -data "$W/tsdata" -sha256 -cert -out "$W/req.tsq" 2>/dev/null
ct=$(curl -sS --cacert "$CISRES_CA" -H 'Content-Type: application/timestamp-query' \
	--data-binary @"$W/req.tsq" -o "$W/resp.tsr" -w '%{http_code} %{content_type}' \
	"$CISRES_BASE/tsa")
assert_eq "$ct" "200 application/timestamp-reply" "/tsa answer"
openssl ts -verify -in "$W/resp.tsr" -queryfile "$W/req.tsq" -CAfile "$CISRES_CA" \
	-untrusted "$TSA_CERT" >/dev/null 2>&1 || fail "openssl ts -verify of the /tsa reply"
openssl ts -verify -in "$W/resp.tsr" -data "$W/tsdata" -CAfile "$CISRES_CA" \
	-untrusted "$TSA_CERT" >/dev/null 2>&1 || fail "openssl ts -verify -data of the /tsa reply"

# ---------------------------------------------------------------- revoke
step "auth/revoke the refresh token (and the access tokens it minted)"
csc auth/revoke "{\"token\":\"$ALICE_REFRESH2\",\"token_type_hint\":\"refresh_token\"}" "$ALICE_TOK2"
assert_status 204 "auth/revoke"
csc auth/login "{\"refresh_token\":\"$ALICE_REFRESH2\"}"
assert_error 400 authentication_error
csc credentials/list '{}' "$ALICE_TOK2"
assert_error 401 invalid_token

step "metrics count the signatures"
metrics=$(curl -sS --cacert "$CISRES_CA" "$CISRES_BASE/metrics")
sigs=$(printf '%s\n' "$metrics" | sed -n 's/^cisres_signatures_total //p')
[ "${sigs:-0}" -ge 12 ] || fail "cisres_signatures_total = $sigs, expected >= 12"
assert_not_contains "$(cat "$CISRES_TMP/server.log")" "$CAROL_TOK" "no token in the server log"
assert_not_contains "$(cat "$CISRES_TMP/server.log")" "$SAD" "no SAD in the server log"
