#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Java through SunPKCS11: a provider configuration file (library, slot /
# slotListIndex), keytool -list shows one PrivateKeyEntry with its full
# chain (the CA certificates are token objects) per credential, jarsigner
# signs a JAR with the EC P-256 and RSA-2048 keys (SCAL1, PIN) and with a
# SCAL2 key whose OTP comes from otp_command (SunPKCS11 cannot log in per
# signature). jarsigner -verify -strict (against a trust store with the
# service's root) and OpenSSL (the signature block over the .SF file)
# accept the result.
. "$(dirname "$0")/apps_lib.sh"

apps_require java keytool jarsigner jar unzip
apps_start --scal2
apps_conf_set alice "otp_command = $(apps_otp_command)"

cat >"$W/sunpkcs11.cfg" <<EOF
name = CISRES
library = $MOD
slot = 0
EOF
cat >"$W/sunpkcs11-index.cfg" <<EOF
name = CISRES
library = $MOD
slotListIndex = 0
EOF
P11=(-keystore NONE -storetype PKCS11 -addprovider SunPKCS11)

# alias_of SERIAL_HEX LISTING: the alias of the entry whose certificate has
# that serial number (keytool -list -v output).
alias_of() {
	awk -v s="$(tr 'A-F' 'a-f' <<<"$1")" '
		/^Alias name: / { a = substr($0, 13); first = 1 }
		/^Serial number: / && first { if ($3 == s) { print a; exit } first = 0 }' <<<"$2"
}

for cfg in sunpkcs11.cfg sunpkcs11-index.cfg; do
	step "keytool -list with $cfg: a PrivateKeyEntry with a 3-certificate chain per credential"
	out=$(keytool -list -v "${P11[@]}" -providerArg "$W/$cfg" -storepass "$APPS_PIN" 2>&1) ||
		fail "keytool -list: $out"
	assert_contains "$out" "Your keystore contains 3 entries" "number of entries"
	assert_eq "$(grep -c '^Entry type: PrivateKeyEntry' <<<"$out")" 3 "PrivateKeyEntry count"
	assert_eq "$(grep -c '^Certificate chain length: 3' <<<"$out")" 3 "chains of 3"
done
LISTING=$out

step "keytool -list with a wrong PIN fails"
out=$(keytool -list "${P11[@]}" -providerArg "$W/sunpkcs11.cfg" -storepass 999999 2>&1) &&
	fail "keytool -list accepted a wrong PIN"
assert_contains "$out" "keytool error: java.io.IOException: load failed" "wrong PIN error"

mkdir -p "$W/src/pkg"
printf 'hello from a signed jar\n' >"$W/src/pkg/hello.txt"
(cd "$W/src" && jar cf "$W/in.jar" pkg) || fail "jar cf"
must keytool -importcert -noprompt -keystore "$W/trust.p12" -storetype PKCS12 \
	-storepass changeit -alias cisres-root -file "$W/ec.ca2.pem"

for k in ec rsa q; do
	serial=$(openssl x509 -in "$W/$k.pem" -noout -serial | cut -d= -f2)
	alias=$(alias_of "$serial" "$LISTING")
	[ -n "$alias" ] || fail "no keytool alias for the $k certificate (serial $serial)"
	step "jarsigner with the $k key (alias \"$alias\")"
	out=$(jarsigner "${P11[@]}" -providerArg "$W/sunpkcs11.cfg" -storepass "$APPS_PIN" \
		-signedjar "$W/$k.jar" "$W/in.jar" "$alias" 2>&1) || fail "jarsigner $k: $out"
	assert_contains "$out" "jar signed." "jarsigner $k"

	out=$(jarsigner -verify -strict -keystore "$W/trust.p12" -storepass changeit \
		"$W/$k.jar" 2>&1) || fail "jarsigner -verify -strict $k: $out"
	assert_contains "$out" "jar verified." "jarsigner -verify $k"

	rm -rf "$W/x-$k"
	must unzip -q "$W/$k.jar" -d "$W/x-$k"
	block=$(find "$W/x-$k/META-INF" -name '*.RSA' -o -name '*.EC' | head -n1)
	sf=$(find "$W/x-$k/META-INF" -name '*.SF' | head -n1)
	if [ -z "$block" ] || [ -z "$sf" ]; then
		fail "no signature block in $k.jar"
	fi
	case "$k:$block" in
	rsa:*.RSA | ec:*.EC | q:*.EC) ;;
	*) fail "unexpected signature block $block for $k" ;;
	esac
	apps_verify_cms "$block" "$sf" "$W/$k.pem"
	# the .SF covers the manifest, the manifest the content
	mf=$(grep -a '^SHA-256-Digest-Manifest: ' "$sf" | cut -d' ' -f2 | tr -d '\r')
	assert_eq "$mf" "$(openssl dgst -sha256 -binary "$W/x-$k/META-INF/MANIFEST.MF" | base64)" \
		"manifest digest in the .SF"
done

step "a changed class file is detected"
rm -rf "$W/tamper"
mkdir -p "$W/tamper"
(cd "$W/tamper" && unzip -q "$W/ec.jar" && printf 'evil\n' >pkg/hello.txt &&
	zip -q -r "$W/tampered.jar" .) || fail "cannot build the tampered JAR"
out=$(jarsigner -verify -strict -keystore "$W/trust.p12" -storepass changeit \
	"$W/tampered.jar" 2>&1) && fail "jarsigner accepted a changed JAR: $out"
true
