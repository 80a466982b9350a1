#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# LibreOffice (headless, driven over UNO by lo_uno.py with python3-uno) with
# the token in its NSS database (MOZILLA_CERTIFICATE_FOLDER): LibreOffice's
# security environment lists the token's certificates as personal
# certificates, and a Writer document is exported to a PDF signed through
# the token (writer_pdf_Export with SignPDF / SignatureCertificate), with
# the EC P-256 and the RSA-2048 key. OpenSSL verifies the embedded CMS over
# /ByteRange; pdfsig's verdict is checked too.
#
# The account runs in module_prompt mode (PIN from pin_command): headless
# LibreOffice has no interaction handler to ask for the token password, so
# with C_Login it lists no certificate (NoPasswordException). ODF document
# signing has no headless entry point in LibreOffice 7.4 (see
# docs/apps/libreoffice.md), so it is not tested here.
. "$(dirname "$0")/apps_lib.sh"

apps_require soffice modutil certutil pdfsig
/usr/bin/python3 -c 'import uno' 2>/dev/null || fail "python3-uno is required"
apps_start

printf '%s\n' "$APPS_PIN" >"$W/pin.txt"
chmod 600 "$W/pin.txt"
apps_conf_set alice "module_prompt = true"
apps_conf_set alice "pin_command = cat $W/pin.txt"

step "the module and the service's root CA in an NSS database for LibreOffice"
DB=sql:$W/nssdb
mkdir -p "$W/nssdb"
must certutil -N -d "$DB" --empty-password
out=$(modutil -force -dbdir "$DB" -add cisres -libfile "$MOD" -mechanisms FRIENDLY 2>&1) ||
	fail "modutil -add: $out"
must certutil -A -d "$DB" -n "CISRES test root" -t "CT,C,C" -i "$W/ec.ca2.pem"

step "start soffice --headless (own profile, NSS database from MOZILLA_CERTIFICATE_FOLDER)"
PIPE=cisres-lo-$$
LO_PID=
lo_stop() {
	[ -n "$LO_PID" ] || return 0
	timeout 20 /usr/bin/python3 "$CISRES_SRC/tests/apps/lo_uno.py" "$PIPE" quit \
		>/dev/null 2>&1 || true
	for _ in $(seq 1 50); do
		kill -0 -- "-$LO_PID" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL -- "-$LO_PID" 2>/dev/null || true
	LO_PID=
}
trap '_rc=$?; lo_stop; set +e; (exit $_rc); cisres_cleanup' EXIT
MOZILLA_CERTIFICATE_FOLDER=$DB setsid soffice --headless --invisible --norestore --nologo \
	--nodefault "--accept=pipe,name=$PIPE;urp;StarOffice.ComponentContext" \
	"-env:UserInstallation=file://$W/lo-profile" >"$W/soffice.log" 2>&1 </dev/null &
LO_PID=$!
lo() { timeout -k 5 120 /usr/bin/python3 "$CISRES_SRC/tests/apps/lo_uno.py" "$PIPE" "$@"; }

step "LibreOffice's security environment lists the token's certificates"
out=$(lo list 2>&1) || fail "lo_uno.py list: $out"
for k in ec rsa; do
	serial=$(openssl x509 -in "$W/$k.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
	assert_contains "$out" "$serial|E=alice@example.org,CN=Test Alice,O=CISRES Demo|CN=CISRES Demo Issuing CA,O=CISRES Demo" \
		"personal certificate $k"
done

for k in ec rsa; do
	step "LibreOffice exports a PDF signed with the $k key; OpenSSL and pdfsig verify it"
	serial=$(openssl x509 -in "$W/$k.pem" -noout -serial | cut -d= -f2)
	rm -f "$W/$k.pdf"
	out=$(lo pdf "$serial" "$W/$k.pdf" 2>&1) || fail "signed PDF export with $k: $out"
	[ -s "$W/$k.pdf" ] || fail "no $k.pdf"
	"$PY" "$CISRES_SRC/tests/apps/pdfcms.py" "$W/$k.pdf" "$W/$k.p7s" "$W/$k.data" ||
		fail "cannot extract the signature of $k.pdf"
	apps_verify_cms "$W/$k.p7s" "$W/$k.data" "$W/$k.pem"
	out=$(pdfsig -nssdir "$DB" "$W/$k.pdf" 2>&1) || true
	assert_contains "$out" "Signature Validation: Signature is Valid." "pdfsig verdict on $k.pdf"
	assert_contains "$out" "Certificate Validation: Certificate is Trusted." "pdfsig chain of $k.pdf"
	assert_contains "$out" "Total document signed" "pdfsig coverage of $k.pdf"
done
lo_stop
