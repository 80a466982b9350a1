#!/usr/bin/env bash
# The main job on the embedded default, from a fresh Debian 12 machine:
# install packages, build, start cisresd on an empty state directory
# (SQLite store, SoftHSM token, CA, TSA), enroll a demo signer, log this
# workstation in, sign a file through the PKCS#11 token with pkcs11-tool,
# verify the signature with OpenSSL, then keep serving in the foreground.
#   CISRES_DEMO_DIR  state + workstation directory (default ./demo)
#   CISRES_DEMO_PORT listen port (default 8443)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

"$src/scripts/install-deps.sh"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCISRES_TESTS=OFF >/dev/null
cmake --build "$src/build" -j"$(nproc)"
bin=$src/build

demo=${CISRES_DEMO_DIR:-$src/demo}
port=${CISRES_DEMO_PORT:-8443}
rm -rf "$demo"
mkdir -p "$demo/workstation"
chmod 700 "$demo" "$demo/workstation"
state=$demo/state

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Starting cisresd on the embedded default ($state)"
"$bin/cisresd" --foreground --state-dir "$state" --listen "127.0.0.1:$port" >"$demo/cisresd.out" 2>"$demo/cisresd.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 300); do
	grep -q 'CA certificate' "$demo/cisresd.out" 2>/dev/null && break
	kill -0 $server 2>/dev/null || { cat "$demo/cisresd.log"; exit 1; }
	sleep 0.1
done
cat "$demo/cisresd.out"
url=https://127.0.0.1:$port
ca=$(sed -n 's/^cisresd: CA certificate: //p' "$demo/cisresd.out")

say "Enrolling the demo signer"
password=$(openssl rand -hex 8)
pin=$(printf '%06d' $(( $(od -An -N4 -tu4 /dev/urandom) % 1000000 )))
export CISRES_DEMO_PASSWORD=$password CISRES_DEMO_PIN=$pin
admin=("$bin/cisres-admin" --state-dir "$state")
"${admin[@]}" user add demo --display "Demo Signer" --email demo@example.org --login-otp \
	--password-env CISRES_DEMO_PASSWORD | tee "$demo/user.txt"
secret=$(sed -n 's/^totp-secret: //p' "$demo/user.txt")
"${admin[@]}" credential add demo --key ec-p256 --scal 2 --auth pin+otp \
	--pin-env CISRES_DEMO_PIN | tee "$demo/credential.txt"
echo "password: $password"
echo "signing PIN: $pin"
echo "TOTP secret: $secret  (oathtool --totp -b $secret)"

say "Logging this workstation in (cisres login)"
export XDG_CONFIG_HOME=$demo/workstation/config XDG_CACHE_HOME=$demo/workstation/cache
export CISRES_PKCS11_CONF=$XDG_CONFIG_HOME/cisres/pkcs11.conf
"$bin/cisres" login --server "$url" --user demo --ca-file "$ca" \
	--password-env CISRES_DEMO_PASSWORD --otp "$(oathtool --totp -b "$secret")"
# Each SCAL2 signature needs a fresh one-time code; the token asks this
# command for it. The login spent the current 30-second step, so the demo
# takes the next one (accepted within the ±1 step window).
sed -i "/^\[account demo\]/a otp_command = oathtool --totp -b $secret --now '+30 seconds'" \
	"$CISRES_PKCS11_CONF"
cat "$CISRES_PKCS11_CONF"
"$bin/cisres" status

say "Signing a file through the token with pkcs11-tool"
module=$bin/cisres-pkcs11.so
echo "CISRES demo document, $(date -u)" >"$demo/document.txt"
pkcs11-tool --module "$module" --list-objects
pkcs11-tool --module "$module" --login --pin "$pin" --sign --mechanism ECDSA-SHA256 \
	--signature-format openssl --input-file "$demo/document.txt" --output-file "$demo/document.sig"
pkcs11-tool --module "$module" --read-object --type cert --label "Demo Signer" --output-file "$demo/signer.der"
openssl x509 -inform DER -in "$demo/signer.der" -out "$demo/signer.pem"

say "Verifying with OpenSSL"
openssl x509 -in "$demo/signer.pem" -noout -subject -issuer
openssl verify -CAfile "$ca" "$demo/signer.pem"
openssl dgst -sha256 -verify <(openssl x509 -in "$demo/signer.pem" -pubkey -noout) \
	-signature "$demo/document.sig" "$demo/document.txt"

say "The service keeps running (Ctrl-C stops it). Use the token from other applications:"
cat <<USE
  module:        $module
  config:        export CISRES_PKCS11_CONF=$CISRES_PKCS11_CONF XDG_CACHE_HOME=$XDG_CACHE_HOME
  signing PIN:   $pin      (an OTP per signature comes from the configured otp_command)
  pkcs11-tool:   pkcs11-tool --module $module --login --pin $pin --sign -m ECDSA-SHA256 -i FILE -o FILE.sig
  NSS:           modutil -dbdir sql:\$HOME/.pki/nssdb -add CISRES -libfile $module
  OpenSSL 3:     see docs/apps/openssl.md (pkcs11-provider with pkcs11-module-path=$module)
  server log:    $demo/cisresd.log      audit: $bin/cisres-admin --state-dir $state audit verify
USE
wait $server
