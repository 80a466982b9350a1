#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NSS applications through the module: modutil adds it to a fresh NSS
# database; certutil lists the token's certificates and keys; cmsutil makes
# detached CMS signatures; pdfsig (poppler) signs a PDF; signtool (Mozilla
# object signing, SHA-1 only) signs a JAR under a policy that allows SHA-1. EC P-256 and
# RSA-2048 (SCAL1, PIN), and a SCAL2 credential whose OTP comes from an
# otp_command running oathtool. Every signature is verified with OpenSSL;
# pdfsig's own verdict is checked too.
. "$(dirname "$0")/apps_lib.sh"

apps_require modutil certutil cmsutil pdfsig signtool unzip
# NSS signtool signs only with SHA-1, which the service refuses by default:
# this server's policy allows it (the refusal under the default policy is
# tested in tests/integration/test_server_negative.sh).
POLICY_CONF=$(mktemp "${TMPDIR:-/tmp}/cisres-nss-policy.XXXXXX")
printf '[policy]\nallow_sha1 = 1\n' >"$POLICY_CONF"
APPS_SERVER_ARGS="--config $POLICY_CONF"
apps_start --scal2 rsa-2048
rm -f "$POLICY_CONF"

DBDIR=$W/nssdb
DB=sql:$DBDIR
printf '%s\n' "$APPS_PIN" >"$W/pin.txt"
printf 'Signed through NSS and CISRES.\n' >"$W/doc.txt"
{
	cat "$W/doc.txt"
	printf 'tampered\n'
} >"$W/doc.bad"
"$PY" "$CISRES_SRC/tests/apps/mkpdf.py" "$W/doc.pdf" "CISRES NSS test" || fail "mkpdf.py"

step "modutil -add the module into a fresh NSS database (FRIENDLY: public certificates)"
mkdir -p "$DBDIR"
must certutil -N -d "$DB" --empty-password
out=$(modutil -force -dbdir "$DB" -add cisres -libfile "$MOD" -mechanisms FRIENDLY 2>&1) ||
	fail "modutil -add: $out"
assert_contains "$out" 'Module "cisres" added to database.' "modutil -add"
out=$(modutil -dbdir "$DB" -list cisres 2>&1) || fail "modutil -list cisres: $out"
assert_contains "$out" "Library file: $MOD" "module path"
assert_contains "$out" "Token Name: CISRES alice" "token seen by NSS"
assert_contains "$out" "FRIENDLY" "PublicCerts slot flag"

step "certutil -L -h all lists the signer and CA certificates; -K lists the keys"
out=$(certutil -L -d "$DB" -h all -f "$W/pin.txt" 2>&1) || fail "certutil -L: $out"
assert_eq "$(grep -c '^CISRES alice:Test Alice ' <<<"$out")" 3 "three signer certificates"
assert_contains "$out" "CISRES alice:CISRES Demo Issuing CA" "issuing CA on the token"
assert_contains "$out" "CISRES alice:CISRES Demo Root CA" "root CA on the token"
out=$(certutil -K -d "$DB" -h "CISRES alice" -f "$W/pin.txt" 2>&1) || fail "certutil -K: $out"
for k in ec:ec rsa:rsa rsa:q; do
	grep -Eq "^< *[0-9]+> ${k%%:*} +$(cat "$W/${k#*:}.id") +Test Alice" <<<"$out" ||
		fail "certutil -K does not list the ${k#*:} key by its CKA_ID: $out"
done
# The chain to the token's certificates is anchored at the service's root.
must certutil -A -d "$DB" -n "CISRES test root" -t "CT,C,C" -i "$W/ec.ca2.pem"
out=$(certutil -V -d "$DB" -u S -n "CISRES alice:Test Alice" 2>&1 </dev/null) ||
	fail "certutil -V (e-mail signer) without a login: $out"
assert_contains "$out" "certificate is valid" "certutil -V"

# The same user's credentials share one subject, so one nickname. A pkcs11:
# URI (NSS resolves it wherever it takes a nickname) picks the credential.
for k in ec rsa; do
	step "cmsutil -S detached, signed attributes, $k key (pkcs11: URI as nickname)"
	rm -f "$W/$k.p7s"
	out=$(cmsutil -S -T -G -N "$(apps_uri "$k")" -Y NONE -H SHA256 -d "$DB" \
		-f "$W/pin.txt" -i "$W/doc.txt" -o "$W/$k.p7s" 2>&1) || fail "cmsutil -S $k: $out"
	apps_verify_cms "$W/$k.p7s" "$W/doc.txt" "$W/$k.pem"
	# a changed document must not verify
	if openssl cms -verify -binary -inform DER -in "$W/$k.p7s" -content "$W/doc.bad" \
		-noverify -out /dev/null 2>/dev/null; then
		fail "the $k CMS verifies over changed content"
	fi
done

step "cmsutil -S without signed attributes, RSA key"
out=$(cmsutil -S -T -N "$(apps_uri rsa)" -Y NONE -H SHA256 -d "$DB" -f "$W/pin.txt" \
	-i "$W/doc.txt" -o "$W/rsa-noattr.p7s" 2>&1) || fail "cmsutil -S (no attributes): $out"
apps_verify_cms "$W/rsa-noattr.p7s" "$W/doc.txt" "$W/rsa.pem"

# pdfsig_sign KEY IN OUT: pdfsig -add-signature with the token key. pdfsig
# logs in to the token with -nss-pwd (-kpw is not used for it). poppler
# 22.12 sizes /Contents from a trial signature; a later ECDSA signature can
# be a byte or two longer ("unable update signature", exit 3, and a file
# with an unusable signature is left behind): retry.
pdfsig_sign() {
	local k=$1 in=$2 outf=$3 try out rc
	for try in $(seq 1 12); do
		rm -f "$outf"
		set +e
		out=$(pdfsig -nssdir "$DB" -nss-pwd "$APPS_PIN" -kpw "$APPS_PIN" -add-signature \
			-nick "$(apps_uri "$k")" -reason "CISRES test" "$in" "$outf" 2>&1)
		rc=$?
		set -e
		if [ "$rc" = 0 ] && [ -s "$outf" ]; then
			[ "$try" -gt 1 ] && note "pdfsig needed $try attempts"
			return 0
		fi
		case "$out" in
		*"unable update signature"*) note "pdfsig attempt $try with $k: unable update signature" ;;
		*) fail "pdfsig -add-signature with $k failed (rc $rc): $out" ;;
		esac
	done
	fail "pdfsig -add-signature with $k: no attempt succeeded: $out"
}

# pdf_check SIGNED KEY: the embedded CMS over /ByteRange verifies with
# OpenSSL and is KEY's; pdfsig's own verdict (its exit status is 0 even
# on a digest mismatch) is "valid" and "trusted".
pdf_check() {
	local f=$1 k=$2 out
	"$PY" "$CISRES_SRC/tests/apps/pdfcms.py" "$f" "$f.p7s" "$f.data" ||
		fail "cannot extract the signature of $f"
	apps_verify_cms "$f.p7s" "$f.data" "$W/$k.pem"
	out=$(pdfsig -nssdir "$DB" "$f" 2>&1) || true
	assert_contains "$out" "Signer Certificate Common Name: Test Alice" "pdfsig signer of $f"
	assert_contains "$out" "Total document signed" "pdfsig coverage of $f"
	assert_contains "$out" "Signature Validation: Signature is Valid." "pdfsig verdict on $f"
	assert_contains "$out" "Certificate Validation: Certificate is Trusted." "pdfsig chain of $f"
}

for k in ec rsa; do
	step "pdfsig -add-signature with the $k key; OpenSSL and pdfsig verify it"
	pdfsig_sign "$k" "$W/doc.pdf" "$W/signed-$k.pdf"
	pdf_check "$W/signed-$k.pdf" "$k"
done

step "pdfsig detects a changed signed PDF (the check above is not vacuous)"
cp "$W/signed-ec.pdf" "$W/tampered.pdf"
"$PY" - "$W/tampered.pdf" <<'EOF'
import sys
p = open(sys.argv[1], "rb").read()
i = p.index(b"(CISRES NSS test)")
open(sys.argv[1], "wb").write(p[:i + 1] + b"X" + p[i + 2:])
EOF
out=$(pdfsig -nssdir "$DB" "$W/tampered.pdf" 2>&1) || true
assert_not_contains "$out" "Signature is Valid." "tampered PDF"

# pdfsig signs twice (the trial run that sizes /Contents, then the real
# signature): two OTPs for one SCAL2 PDF signature. An RSA key keeps the
# signature length fixed, so no retry needs more codes.
step "SCAL2 credential: the OTP of each signature from otp_command (oathtool)"
apps_conf_set alice "otp_command = $(apps_otp_command)"
apps_otp_wait 3
out=$(cmsutil -S -T -G -N "$(apps_uri q)" -Y NONE -H SHA256 -d "$DB" -f "$W/pin.txt" \
	-i "$W/doc.txt" -o "$W/q.p7s" 2>&1) || fail "cmsutil -S with the SCAL2 credential: $out"
apps_verify_cms "$W/q.p7s" "$W/doc.txt" "$W/q.pem"
pdfsig_sign q "$W/doc.pdf" "$W/signed-q.pdf"
pdf_check "$W/signed-q.pdf" q

step "signtool (Mozilla object signing, SHA-1 by this server's policy) signs a JAR"
mkdir -p "$W/tree"
printf 'payload\n' >"$W/tree/hello.txt"
# NSS wants the issuing CA marked as a valid CA for object signing (it has
# no code-signing EKU), else it stops earlier with "Issuer certificate is
# invalid" — and still exits 0, so the output is what is checked.
must certutil -A -d "$DB" -n "CISRES test issuing CA" -t ",,c" -i "$W/ec.ca1.pem"
out=$(signtool -d "$DB" -k "$(apps_uri rsa)" -p "$APPS_PIN" -Z "$W/signed.jar" "$W/tree" 2>&1) ||
	fail "signtool: $out"
assert_not_contains "$out" "NOT SUCCESSFULLY SIGNED" "signtool result"
rm -rf "$W/jar" && mkdir -p "$W/jar"
(cd "$W/jar" && unzip -q "$W/signed.jar") || fail "unzip signed.jar"
sig=$(find "$W/jar/META-INF" -iname '*.rsa' | head -1)
sf=$(find "$W/jar/META-INF" -iname '*.sf' | head -1)
[ -n "$sig" ] && [ -n "$sf" ] || fail "signtool wrote no signature: $(ls -R "$W/jar")"
# Independent check: the PKCS#7 signature over the .sf file, by OpenSSL,
# with the signer from the token's certificate.
openssl cms -verify -inform DER -in "$sig" -binary -content "$sf" -noverify \
	-certfile "$W/rsa.pem" -out /dev/null 2>"$W/cms.err" ||
	fail "OpenSSL rejects signtool's signature: $(cat "$W/cms.err")"
