# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared set-up of the PKCS#11 application tests (test_p11_*.sh): a real
# cisresd, a signer enrolled with cisres-admin, this "workstation" logged in
# with `cisres login` (refresh token + module configuration in a private
# $XDG_CONFIG_HOME), and helpers to check what the applications produce
# against the certificates the CSC API returns. Source after lib.sh.

for t in oathtool openssl python3; do
	command -v "$t" >/dev/null || fail "$t is required"
done
MOD=$CISRES_BUILD/cisres-pkcs11.so
[ -f "$MOD" ] || fail "no cisres-pkcs11.so in $CISRES_BUILD"
[ -x "$CISRES_BUILD/cisres" ] || fail "no cisres in $CISRES_BUILD"

# p11_start: the server, a work directory and a private home for the
# configuration, the refresh tokens and the cache.
p11_start() {
	cisres_start_server
	W=$CISRES_TMP/work
	mkdir -p "$W"
	export W
	export XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache HOME=$W/home
	unset CISRES_PKCS11_CONF CISRES_DEBUG
	mkdir -p "$HOME"
	CONF=$XDG_CONFIG_HOME/cisres/pkcs11.conf
	export CONF
	head -c 3000 /dev/urandom >"$W/data"
}

# p11_login USER PASSWORD: `cisres login` for an account named USER (the
# user must not need an OTP at login).
p11_login() {
	local out
	out=$(PW=$2 "$CISRES_BUILD/cisres" login --server "$CISRES_BASE" --user "$1" \
		--ca-file "$CISRES_CA" --password-env PW 2>&1 </dev/null) ||
		fail "cisres login $1 failed: $out"
}

# p11_conf_set ACCOUNT LINE: add a "key = value" line to [account ACCOUNT].
p11_conf_set() {
	"$PY" - "$CONF" "$1" "$2" <<'EOF'
import sys
path, account, line = sys.argv[1:4]
out, inside, done = [], False, False
for l in open(path).read().splitlines():
    s = l.strip()
    if s.startswith("["):
        if inside and not done:
            out.append(line)
            done = True
        inside = s == "[account %s]" % account
    out.append(l)
if inside and not done:
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
EOF
}

# p11_otp_command SECRET: an otp_command that prints the TOTP code of the
# next unused 30 s step (the service accepts each step once, within one step
# of now), so that several signatures in a row each get a fresh code.
p11_otp_command() {
	local script=$W/otp.sh
	cat >"$script" <<EOF
#!/bin/sh
state=$W/otp.step
now=\$(( \$(date +%s) / 30 ))
last=\$(cat "\$state" 2>/dev/null || echo 0)
step=\$(( last + 1 ))
[ "\$step" -lt \$(( now - 1 )) ] && step=\$(( now - 1 ))
if [ "\$step" -gt \$(( now + 1 )) ]; then
	sleep \$(( (step - 1) * 30 - \$(date +%s) + 1 ))
fi
echo "\$step" >"\$state"
exec oathtool --totp -b "$1" -N "@\$(( step * 30 ))"
EOF
	chmod 700 "$script"
	printf '%s\n' "$script"
}

# p11_cert CREDENTIAL_ID USER PASSWORD PREFIX: the certificate and its chain
# as the CSC API returns them: PREFIX.pem (end entity), PREFIX.pub.pem (its
# public key), PREFIX.id (hex SHA-1 of the DER SubjectPublicKeyInfo, the
# CKA_ID the token must show), PREFIX.ca1.pem, PREFIX.ca2.pem.
p11_cert() {
	local id=$1 tok prefix=$4
	tok=$(login "$2" "$3")
	csc credentials/info "{\"credentialID\":\"$id\",\"certificates\":\"chain\"}" "$tok"
	assert_status 200 "credentials/info $id"
	cert_pem_from_b64 "$(jget cert.certificates.0)" "$prefix.pem"
	cert_pem_from_b64 "$(jget cert.certificates.1)" "$prefix.ca1.pem"
	cert_pem_from_b64 "$(jget cert.certificates.2)" "$prefix.ca2.pem"
	openssl x509 -in "$prefix.pem" -pubkey -noout >"$prefix.pub.pem"
	p11_spki_id "$prefix.pem" >"$prefix.id"
}

# p11_spki_id CERT.pem: hex SHA-1 of the certificate's DER SubjectPublicKeyInfo.
p11_spki_id() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		openssl dgst -sha1 -binary | od -An -tx1 | tr -d ' \n'
}

# p11_rs_to_der IN OUT: PKCS#11 r||s to a DER Ecdsa-Sig-Value for OpenSSL.
p11_rs_to_der() {
	"$PY" - "$1" "$2" <<'EOF'
import sys
raw = open(sys.argv[1], "rb").read()
if len(raw) == 0 or len(raw) % 2:
    sys.exit("r||s of odd length %d" % len(raw))
n = len(raw) // 2
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b
body = integer(raw[:n]) + integer(raw[n:])
head = bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])
open(sys.argv[2], "wb").write(b"\x30" + head + body)
EOF
}

# p11_digestinfo HASH FILE OUT: the DER DigestInfo of FILE (sha256|sha384|sha512).
p11_digestinfo() {
	local prefix
	case $1 in
	sha256) prefix=3031300d060960864801650304020105000420 ;;
	sha384) prefix=3041300d060960864801650304020205000430 ;;
	sha512) prefix=3051300d060960864801650304020305000440 ;;
	*) fail "p11_digestinfo: unknown hash $1" ;;
	esac
	{
		printf '%s' "$prefix" | xxd -r -p
		openssl dgst "-$1" -binary "$2"
	} >"$3"
}

# p11_pty PROMPT ANSWER [PROMPT ANSWER...] -- COMMAND...: run COMMAND on a
# pseudo-terminal and type each ANSWER when its PROMPT appears (for tools
# that read PINs only from a terminal). Prints the output; the exit status
# is COMMAND's (124 on a 120 s timeout).
p11_pty() {
	"$PY" - "$@" <<'EOF_PY'
import os, pty, select, sys, termios, time
args = sys.argv[1:]
sep = args.index("--")
pairs = list(zip(args[0:sep:2], args[1:sep:2]))
cmd = args[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, seen, deadline = b"", 0, time.time() + 120
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        sys.stdout.write(out.decode(errors="replace"))
        sys.exit(124)
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            break
        out += data
        if pairs and pairs[0][0].encode() in out[seen:]:
            seen = out.rindex(pairs[0][0].encode()) + len(pairs[0][0])
            # Type only once the tool has turned echo off to read the
            # secret: switching the terminal mode flushes pending input.
            until = time.time() + 3
            while time.time() < until and termios.tcgetattr(fd)[3] & termios.ECHO:
                time.sleep(0.02)
            os.write(fd, pairs[0][1].encode() + b"\n")
            pairs.pop(0)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
EOF_PY
}
