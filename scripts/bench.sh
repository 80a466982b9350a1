#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CISRES performance benchmarks: one command, all comparisons in one run so
# that the ratios hold on a noisy machine. Builds what it needs, starts a
# throw-away cisresd (loopback only) and a SoftHSMv2 token with a
# `p11-kit server` in front of it, enrolls signers, runs
#   1. C_Sign through cisres-pkcs11.so (e-seal SCAL1 and SCAL2 paths) vs
#      SoftHSM directly vs p11-kit forwarding (EC P-256, RSA-2048, RSA-3072;
#      1 and 2 threads),
#   2. signatures/signHash throughput (batches 1/16/64, 1..32 clients) vs
#      SoftHSM directly on the same cores,
#   3. token listing with 1, 100, 250 and 1000 credentials (server stopped),
#   4. signHash p50 with 10, 10,000 and 1,000,000 users in the store,
# and prints a table with the machine, versions and settings. Every run is
# bounded by a count and a time limit. See docs/performance.md.
#
#   scripts/bench.sh [--build DIR] [--no-build] [--work DIR] [--keep] [--quick] [--profile]
#                    [--out FILE] [--only LIST]
#
#   --build DIR   build directory (default: $CISRES_BUILD or ./build-bench);
#                 configured RelWithDebInfo and the needed targets built
#   --work DIR    parent of the throw-away state (default /var/tmp: the store
#                 must be on a real disk, not tmpfs, for durable numbers)
#   --no-build    use the programs already built in DIR
#   --keep        keep the state directory
#   --quick       smaller counts (a smoke run of a minute or two)
#   --profile     also profile cisresd (perf) and the module (callgrind)
#   --out FILE    also write the table to FILE
#   --only LIST   comma list of parts to run: sign,hash,list,grow (default all)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${CISRES_BUILD:-$SRC/build-bench}
WORK_PARENT=${TMPDIR_BENCH:-/var/tmp}
KEEP=0 QUICK=0 PROFILE=0 NOBUILD=0 OUT="" ONLY="sign,hash,list,grow"

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--work) WORK_PARENT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--no-build) NOBUILD=1; shift ;;
	--quick) QUICK=1; shift ;;
	--profile) PROFILE=1; shift ;;
	--out) OUT=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	-h | --help) sed -n "3,29p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown option $1" >&2; exit 2 ;;
	esac
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

for t in cmake make softhsm2-util pkcs11-tool p11-kit sqlite3 python3 curl openssl timeout; do
	command -v "$t" >/dev/null || die "$t is required (scripts/install-deps.sh)"
done
SOFTHSM_LIB=/usr/lib/softhsm/libsofthsm2.so
P11KIT_CLIENT=$(find /usr/lib /usr/lib64 -name p11-kit-client.so 2>/dev/null | head -n1 || true)
[ -f "$SOFTHSM_LIB" ] || die "no $SOFTHSM_LIB"
[ -n "$P11KIT_CLIENT" ] || die "no p11-kit-client.so"

# ---- counts and limits (per run; --quick shrinks them) ----
if [ "$QUICK" = 1 ]; then
	SIGN_N_EC=300 SIGN_N_RSA2=100 SIGN_N_RSA3=40 SIGN_N_SCAL2=8
	HASH_SECONDS=1 HASH_CLIENTS="1 2 8 32" HASH_BATCHES="1 16 64"
	HASH_KEYS="rsa" LIST_ITER=300 GROW_N=200 GROW_SIZES="10 10000 100000"
	LIST_SIZES="1 100 1000"
else
	SIGN_N_EC=2000 SIGN_N_RSA2=400 SIGN_N_RSA3=150 SIGN_N_SCAL2=40
	HASH_SECONDS=3 HASH_CLIENTS="1 2 4 8 16 32" HASH_BATCHES="1 16 64"
	HASH_KEYS="rsa ec" LIST_ITER=2000 GROW_N=1500 GROW_SIZES="10 10000 1000000"
	LIST_SIZES="1 100 250 1000"
fi
SIGN_SECONDS=20 # upper bound of one C_Sign run
SIGN_ROUNDS=3
GROW_ROUNDS=3
PIN=246813
PASSWORD=bench-password-1
export BENCH_PIN=$PIN BENCH_PASSWORD=$PASSWORD

# ---- build ----
if [ "$NOBUILD" = 0 ]; then
	log "building in $BUILD"
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCISRES_BENCH=ON >/dev/null ||
		die "cmake failed"
	make -C "$BUILD" -j2 cisresd cisres-admin cisres cisres-pkcs11 bench_p11sign bench_p11list \
		bench_signhash bench_enroll >"${TMPDIR:-/tmp}/cisres-bench-build.log" 2>&1 ||
		die "build failed (see ${TMPDIR:-/tmp}/cisres-bench-build.log)"
fi
for f in cisresd cisres-admin cisres cisres-pkcs11.so tests/bench/bench_p11sign \
	tests/bench/bench_p11list tests/bench/bench_signhash tests/bench/bench_enroll; do
	[ -e "$BUILD/$f" ] || die "no $BUILD/$f (build it, or drop --no-build)"
done
BB=$BUILD/tests/bench
MODULE=$BUILD/cisres-pkcs11.so

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# ---- work directory and cleanup ----
mkdir -p "$WORK_PARENT"
W=$(mktemp -d "$WORK_PARENT/cisres-bench.XXXXXX")
STATE=$W/state
RES=$W/results.txt
mkdir -p "$W/logs"
: >"$RES"
SERVER_PID="" P11KIT_PID="" SERVER_STOPPED=0 REF_PID=""

cleanup() {
	local rc=$?
	if [ -n "$SERVER_PID" ]; then
		[ "$SERVER_STOPPED" = 1 ] && kill -CONT "$SERVER_PID" 2>/dev/null
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [ -n "$REF_PID" ]; then
		kill -TERM "$REF_PID" 2>/dev/null || true
		wait "$REF_PID" 2>/dev/null || true
	fi
	if [ -n "$P11KIT_PID" ]; then
		kill -TERM "$P11KIT_PID" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
		log "state kept in $W"
	else
		rm -rf "$W"
	fi
	return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---- the server ----
start_server() {
	local port line url="" ca=""
	port=$(free_port)
	"$BUILD/cisresd" --state-dir "$STATE" --listen "127.0.0.1:$port" --foreground \
		>"$W/server.out" 2>"$W/logs/cisresd.log" &
	SERVER_PID=$!
	for _ in $(seq 1 600); do
		kill -0 "$SERVER_PID" 2>/dev/null || die "cisresd exited during start-up"
		[ "$(wc -l <"$W/server.out")" -ge 2 ] && break
		sleep 0.1
	done
	while IFS= read -r line; do
		case $line in
		"cisresd: serving "*) url=${line#cisresd: serving } ;;
		"cisresd: CA certificate: "*) ca=${line#cisresd: CA certificate: } ;;
		esac
	done <"$W/server.out"
	[ -n "$url" ] && [ -f "$ca" ] || die "cisresd did not print its URL and CA"
	CSC_URL=$url
	BASE=${url%/csc/v2/}
	CA=$ca
	for _ in $(seq 1 100); do
		[ "$(curl -s --cacert "$CA" "$BASE/health" 2>/dev/null)" = ok ] && return 0
		sleep 0.1
	done
	die "cisresd does not answer /health"
}

# The reference server of part 4: a second cisresd with a small store that
# stays small, measured in the same rounds as the growing one, so that the
# growth ratio is taken between numbers measured side by side.
start_ref_server() {
	local port line
	port=$(free_port)
	"$BUILD/cisres-admin" --state-dir "$W/ref" init >"$W/logs/ref-init.out" ||
		die "reference init failed"
	PW=$PASSWORD "$BUILD/cisres-admin" --state-dir "$W/ref" user add seal --display "Bench Ref" \
		--email ref@example.org --password-env PW --no-otp >/dev/null || die "reference user failed"
	REF_EC=$(PIN=$PIN "$BUILD/cisres-admin" --state-dir "$W/ref" credential add seal --key ec-p256 \
		--scal 1 --multisign 1000 --pin-env PIN | tail -n1 | sed -n 's/^credential: //p')
	[ -n "$REF_EC" ] || die "reference credential failed"
	"$BUILD/cisresd" --state-dir "$W/ref" --listen "127.0.0.1:$port" --foreground \
		>"$W/ref.out" 2>"$W/logs/cisresd-ref.log" &
	REF_PID=$!
	for _ in $(seq 1 600); do
		kill -0 "$REF_PID" 2>/dev/null || die "reference cisresd exited during start-up"
		[ "$(wc -l <"$W/ref.out")" -ge 2 ] && break
		sleep 0.1
	done
	REF_URL="" REF_CA=""
	while IFS= read -r line; do
		case $line in
		"cisresd: serving "*) REF_URL=${line#cisresd: serving } ;;
		"cisresd: CA certificate: "*) REF_CA=${line#cisresd: CA certificate: } ;;
		esac
	done <"$W/ref.out"
	[ -n "$REF_URL" ] || die "reference cisresd did not print its URL"
}

admin() { "$BUILD/cisres-admin" --state-dir "$STATE" "$@"; }

add_user() { # NAME [admin options]
	local name=$1
	shift
	PW=$PASSWORD admin user add "$name" --display "Bench ${name^}" --email "$name@example.org" \
		--password-env PW "$@" >"$W/logs/user-$name.out" || die "user add $name failed"
}

add_cred() { # USER KEY [admin options]; prints the credential ID
	local out
	out=$(PIN=$PIN admin credential add "$1" --key "$2" --pin-env PIN "${@:3}") ||
		die "credential add $1 $2 failed"
	printf '%s\n' "$out" | tail -n1 | sed -n 's/^credential: //p'
}

sql() { sqlite3 -cmd ".timeout 10000" "$STATE/cisres.db" "$@"; }

# ---- running one case ----
# run_case TAG COMMAND...: keeps the result line, tagged; one retry. A case
# that fails twice is recorded as failed (with its last result line, if any).
run_case() {
	local tag=$1 line="" try rc
	shift
	for try in 1 2; do
		rc=0
		timeout 300 "$@" >"$W/logs/$tag.out" 2>>"$W/logs/$tag.err" || rc=$?
		line=$(grep '^bench=' "$W/logs/$tag.out" | tail -n1 || true)
		if [ "$rc" = 0 ] && [ -n "$line" ]; then
			printf 'case=%s %s\n' "$tag" "$line" >>"$RES"
			[ "$try" = 2 ] && printf 'case=%s retried=1\n' "$tag" >>"$RES"
			log "$tag: $(printf '%s' "$line" | grep -o 'p50_us=[^ ]*\|p99_us=[^ ]*\|ops_per_s=[^ ]*\|sigs_per_s=[^ ]*' | tr '\n' ' ')"
			return 0
		fi
		log "$tag: failed (exit $rc, try $try): $(tail -n2 "$W/logs/$tag.err" | tr '\n' ' ')"
	done
	[ -n "$line" ] && printf 'case=%s %s\n' "$tag" "$line" >>"$RES"
	printf 'case=%s failed=1\n' "$tag" >>"$RES"
	return 0
}

# fsync_probe WHEN: fdatasync latency of the store's disk right now (the
# e-seal path waits for it twice per signature), as a result line
fsync_probe() {
	python3 - "$W/fsync.probe" "$1" >>"$RES" <<'EOF'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
ts = []
for i in range(200):
    os.write(fd, b"x" * 4096)
    t = time.perf_counter()
    os.fdatasync(fd)
    ts.append((time.perf_counter() - t) * 1e6)
os.close(fd)
os.unlink(sys.argv[1])
ts.sort()
print("case=fsync.%s p50_us=%.1f p99_us=%.1f" % (sys.argv[2], ts[100], ts[197]))
EOF
}

# ---- set-up ----
log "work directory $W ($(stat -f -c %T "$W") file system)"
admin init >"$W/logs/init.out" || die "cisres-admin init failed"

log "enrolling signers"
add_user seal --no-otp
SEAL_EC=$(add_cred seal ec-p256 --scal 1 --multisign 1000)
SEAL_RSA2=$(add_cred seal rsa-2048 --scal 1 --multisign 1000)
add_cred seal rsa-3072 --scal 1 --multisign 1000 >/dev/null
add_user qes
# A TOTP code is accepted once per 30 s step, so a signature per OTP cannot
# be benchmarked: the SCAL2 credentials are PIN-only, enrolled through the
# SAM by bench_enroll (cisres-admin refuses that, and an edited row no longer
# opens its PIN verifier). The flow stays SCAL2 (authorize bound to the hash
# + signHash per signature).
enroll_qes() { # KEY; prints the credential ID
	"$BB/bench_enroll" "$STATE" qes "$1" "$PIN" | sed -n 's/^credential: //p'
}
QES_EC=$(enroll_qes ec-p256)
QES_RSA2=$(enroll_qes rsa-2048)
QES_RSA3=$(enroll_qes rsa-3072)
[ -n "$QES_EC" ] && [ -n "$QES_RSA2" ] && [ -n "$QES_RSA3" ] || die "SCAL2 enrollment failed"

# Listing: one real credential per listing user, copied in the store to N
# rows with new IDs (enrolling 1000 keys through cisres-admin takes minutes:
# every run loads the whole SoftHSM token). The copies share the key and
# certificate, so their objects share a CKA_ID; the module lists them all.
if want list; then
	for n in $LIST_SIZES; do
		add_user "list$n" --no-otp
		one=$(add_cred "list$n" ec-p256 --scal 1)
		sql "WITH RECURSIVE c(x) AS (SELECT 2 UNION ALL SELECT x + 1 FROM c WHERE x < $n)
INSERT INTO credentials(id, user_id, key_id, key_kind, key_bits, curve_nid, cert, scal, auth_otp,
  multisign, pin_hash, enabled, description, created)
SELECT lower(hex(randomblob(16))), user_id, key_id, key_kind, key_bits, curve_nid, cert, scal,
  auth_otp, multisign, pin_hash, enabled, description, created + x FROM credentials, c
WHERE id = '$one' AND $n > 1;"
		log "list$n: $(sql "SELECT count(*) FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.name = 'list$n';") credentials"
	done
fi

start_server
log "cisresd at $CSC_URL (pid $SERVER_PID)"

# workstation homes: one for signing (accounts seal, qes), one per listing size
login_account() { # HOME_DIR USER
	local h=$1
	mkdir -p "$h/home"
	(
		export XDG_CONFIG_HOME=$h/config XDG_CACHE_HOME=$h/cache HOME=$h/home
		unset CISRES_PKCS11_CONF
		PW=$PASSWORD "$BUILD/cisres" login --server "$BASE" --user "$2" --ca-file "$CA" \
			--password-env PW </dev/null >"$W/logs/login-$2.out" 2>&1
	) || die "cisres login $2 failed: $(cat "$W/logs/login-$2.out")"
}
# home_env HOME_DIR: sets HENV to an `env` prefix that runs a command as
# that workstation user (the module reads its configuration and cache there)
home_env() {
	HENV=(env -u CISRES_PKCS11_CONF -u CISRES_DEBUG XDG_CONFIG_HOME="$1/config"
		XDG_CACHE_HOME="$1/cache" HOME="$1/home")
}
SIGNHOME=$W/ws-sign
login_account "$SIGNHOME" seal
login_account "$SIGNHOME" qes

# ---- SoftHSM direct token and p11-kit server ----
log "SoftHSM token and p11-kit server"
mkdir -p "$W/softhsm/tokens" "$W/run"
chmod 700 "$W/run"
printf 'directories.tokendir = %s/softhsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$W" >"$W/softhsm/softhsm2.conf"
export SOFTHSM2_CONF=$W/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label bench --pin "$PIN" --so-pin 87654321 >/dev/null
for k in "EC:prime256v1 ec256 01" "rsa:2048 rsa2048 02" "rsa:3072 rsa3072 03"; do
	set -- $k
	pkcs11-tool --module "$SOFTHSM_LIB" --token-label bench --login --pin "$PIN" \
		--keypairgen --key-type "$1" --label "$2" --id "$3" >/dev/null 2>&1 ||
		die "SoftHSM key generation $1 failed"
done
P11ENV=$(XDG_RUNTIME_DIR=$W/run p11-kit server --provider "$SOFTHSM_LIB" -n "$W/run/p11kit.sock" \
	"pkcs11:token=bench") || die "p11-kit server failed"
P11KIT_PID=$(printf '%s\n' "$P11ENV" | sed -n 's/^P11_KIT_SERVER_PID=\([0-9]*\).*/\1/p')
P11ADDR=$(printf '%s\n' "$P11ENV" | sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p')
[ -n "$P11KIT_PID" ] && [ -n "$P11ADDR" ] || die "p11-kit server printed no address"
log "p11-kit server $P11ADDR (pid $P11KIT_PID)"

# ---- 1. C_Sign ----
# One cell of part 1: the four implementations back to back, SIGN_ROUNDS
# times, so that a burst of noise hits them alike; the table takes the
# median of the rounds.
sign_runs() { # KEY(ec|rsa) BITS TAGKEY COUNT THREADS
	local key=$1 bits=$2 tk=$3 n=$(($4 / SIGN_ROUNDS)) t=$5 r common
	local n2=$(((SIGN_N_SCAL2 + SIGN_ROUNDS - 1) / SIGN_ROUNDS))
	common=(--key "$key" --bits "$bits" --threads "$t" --seconds "$SIGN_SECONDS" --pin-env BENCH_PIN)
	home_env "$SIGNHOME"
	for r in $(seq 1 "$SIGN_ROUNDS"); do
		run_case "sign.softhsm.$tk.t$t.r$r" "$BB/bench_p11sign" --module "$SOFTHSM_LIB" \
			--token bench "${common[@]}" --count "$n" --warmup 20 --name softhsm
		run_case "sign.p11kit.$tk.t$t.r$r" env P11_KIT_SERVER_ADDRESS="$P11ADDR" \
			"$BB/bench_p11sign" --module "$P11KIT_CLIENT" --token bench "${common[@]}" \
			--count "$n" --warmup 20 --name p11kit
		run_case "sign.seal.$tk.t$t.r$r" "${HENV[@]}" "$BB/bench_p11sign" --module "$MODULE" \
			--token "CISRES seal" "${common[@]}" --count "$n" --warmup 20 --name seal
		run_case "sign.scal2.$tk.t$t.r$r" "${HENV[@]}" "$BB/bench_p11sign" --module "$MODULE" \
			--token "CISRES qes" "${common[@]}" --count "$n2" --warmup 2 --name scal2
	done
}
fsync_probe 1-start
if want sign; then
	log "1. C_Sign latency and throughput"
	for t in 1 2; do
		sign_runs ec 256 ec256 "$SIGN_N_EC" "$t"
		sign_runs rsa 2048 rsa2048 "$SIGN_N_RSA2" "$t"
		sign_runs rsa 3072 rsa3072 "$SIGN_N_RSA3" "$t"
	done
fi

# ---- 2. signHash throughput ----
hash_run() { # TAG KEY CRED BATCH CLIENTS SECONDS MAXSIGS [bench_signhash options]
	run_case "$1" "$BB/bench_signhash" --url "${HASH_URL:-$CSC_URL}" --ca "${HASH_CA:-$CA}" --user seal \
		--password-env BENCH_PASSWORD --pin-env BENCH_PIN --cred "$3" --key "$2" \
		--batch "$4" --clients "$5" --seconds "$6" --max-sigs "$7" --multisign 1000 \
		--name "$1" "${@:8}"
}
fsync_probe 2-after-sign
if want hash; then
	log "2. signHash throughput"
	# the target pair, interleaved over rounds: SoftHSM on 2 threads and
	# signHash with 64-hash batches from 2 clients
	for r in $(seq 1 "$SIGN_ROUNDS"); do
		run_case "tgt.hsm.rsa2048.t2.r$r" "$BB/bench_p11sign" --module "$SOFTHSM_LIB" \
			--token bench --key rsa --bits 2048 --threads 2 --count "$SIGN_N_RSA2" \
			--seconds "$SIGN_SECONDS" --pin-env BENCH_PIN --name softhsm
		hash_run "tgt.hash.rsa2048.b64.c2.r$r" rsa "$SEAL_RSA2" 64 2 "$HASH_SECONDS" 6000
	done
	for key in $HASH_KEYS; do
		if [ "$key" = rsa ]; then cred=$SEAL_RSA2 bits=2048 budget=6000 tk=rsa2048 n=$SIGN_N_RSA2
		else cred=$SEAL_EC bits=256 budget=30000 tk=ec256 n=$SIGN_N_EC; fi
		# the baseline on the same cores, next to the server runs
		for t in 1 2; do
			run_case "hsm.$tk.t$t" "$BB/bench_p11sign" --module "$SOFTHSM_LIB" --token bench \
				--key "$key" --bits "$bits" --threads "$t" --count $((n * 2)) \
				--seconds "$SIGN_SECONDS" --pin-env BENCH_PIN --name softhsm
		done
		for b in $HASH_BATCHES; do
			for c in $HASH_CLIENTS; do
				hash_run "hash.$tk.b$b.c$c" "$key" "$cred" "$b" "$c" "$HASH_SECONDS" "$budget"
			done
		done
	done
fi

fsync_probe 3-after-hash
# ---- 3. listing ----
if want list; then
	log "3. token listing (server stopped while measuring)"
	for n in $LIST_SIZES; do
		h=$W/ws-list$n
		login_account "$h" "list$n"
		# fill the module's cache once with the server up, then wait until
		# it has the whole list
		home_env "$h"
		"${HENV[@]}" "$BB/bench_p11list" --module "$MODULE" --iterations 1 \
			>"$W/logs/list$n-warm.out" 2>&1 || true
		for _ in $(seq 1 30); do
			if [ -s "$h/cache/cisres/list$n.json" ]; then break; fi
			sleep 0.1
		done
		kill -STOP "$SERVER_PID"
		SERVER_STOPPED=1
		run_case "list.$n" "${HENV[@]}" "$BB/bench_p11list" --module "$MODULE" \
			--iterations "$LIST_ITER" --seconds 20 --min-objects "$n" --name "list$n"
		run_case "list.$n.attrs" "${HENV[@]}" "$BB/bench_p11list" --module "$MODULE" \
			--iterations "$LIST_ITER" --seconds 20 --min-objects "$n" --attrs --name "list$n"
		kill -CONT "$SERVER_PID"
		SERVER_STOPPED=0
	done
fi

# ---- 4. growth ----
if want grow; then
	log "4. signHash p50 as the user table grows (beside a reference server)"
	start_ref_server
	NOW=$(date +%s)
	for size in $GROW_SIZES; do
		have=$(sql "SELECT count(*) FROM users;")
		if [ "$have" -lt "$size" ]; then
			add=$((size - have))
			log "inserting $add users (with a credential and a refresh token each)"
			start=$(sql "SELECT coalesce(max(id),0) FROM users;")
			sql <<EOF >/dev/null
BEGIN;
CREATE TEMP TABLE seq(x INTEGER PRIMARY KEY);
WITH RECURSIVE c(x) AS (SELECT $((start + 1)) UNION ALL SELECT x + 1 FROM c WHERE x < $((start + add)))
INSERT INTO seq SELECT x FROM c;
INSERT INTO users(id, name, display, email, pw_hash, otp_key, created)
  SELECT x, 'bulk' || x, 'Bulk User ' || x, 'bulk' || x || '@example.org',
         '\$scrypt\$ln=15,r=8,p=1\$' || hex(randomblob(16)) || '\$' || hex(randomblob(32)),
         randomblob(20), $NOW FROM seq;
INSERT INTO credentials(id, user_id, key_id, key_kind, key_bits, curve_nid, cert, scal,
         auth_otp, multisign, pin_hash, created)
  SELECT lower(hex(randomblob(16))), x, randomblob(20), k.key_kind, k.key_bits, k.curve_nid,
         NULL, 2, 1, 1, '\$scrypt\$ln=15,r=8,p=1\$' || hex(randomblob(16)), $NOW
  FROM seq, (SELECT key_kind, key_bits, curve_nid FROM credentials WHERE id = '$SEAL_EC') AS k;
INSERT INTO tokens(hash, kind, user_id, parent, expires, revoked)
  SELECT randomblob(32), 2, x, NULL, $((NOW + 30 * 86400)), 0 FROM seq;
DROP TABLE seq;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
		fi
		have=$(sql "SELECT count(*) FROM users;")
		log "users: $have, credentials: $(sql 'SELECT count(*) FROM credentials;')"
		for r in $(seq 1 "$GROW_ROUNDS"); do
			hash_run "grow.$size.r$r" ec "$SEAL_EC" 1 1 20 $((GROW_N / GROW_ROUNDS))
			HASH_URL=$REF_URL HASH_CA=$REF_CA \
				hash_run "growref.$size.r$r" ec "$REF_EC" 1 1 20 $((GROW_N / GROW_ROUNDS))
		done
		printf 'case=grow.%s users=%s credentials=%s tokens=%s db_bytes=%s\n' "$size" "$have" \
			"$(sql 'SELECT count(*) FROM credentials;')" "$(sql 'SELECT count(*) FROM tokens;')" \
			"$(stat -c %s "$STATE/cisres.db")" >>"$RES"
	done
fi

fsync_probe 4-end
# ---- profiles (optional) ----
# the server and every process under it (a separate SAM process, if any)
server_pids() {
	local p=$1 c
	printf '%s' "$p"
	for c in $(pgrep -P "$p" || true); do
		printf ','
		server_pids "$c"
	done
}
perf_during() { # NAME SECONDS HASH_RUN_ARGS...: perf record the server during a signHash run
	local name=$1 secs=$2 pp
	shift 2
	rm -f "$W/ready"
	hash_run "$@" --ready-file "$W/ready" &
	pp=$!
	for _ in $(seq 1 600); do
		[ -e "$W/ready" ] && break
		kill -0 "$pp" 2>/dev/null || break
		sleep 0.05
	done
	perf record -F 999 -g -p "$(server_pids "$SERVER_PID")" -o "$W/perf-$name.data" \
		-- sleep "$secs" >/dev/null 2>&1 || true
	wait "$pp" || true
	{
		echo "# perf, cisresd during $name: share of samples per library"
		perf report -i "$W/perf-$name.data" --no-children --sort dso --stdio -g none 2>/dev/null |
			grep '%' | grep -v '^#' | head -n 8 || true
		echo "# top symbols (self)"
		perf report -i "$W/perf-$name.data" --no-children --sort dso,symbol --stdio -g none \
			2>/dev/null | grep '%' | grep -v '^#' | head -n 20 || true
	} >"$W/profile-perf-$name.txt"
}
if [ "$PROFILE" = 1 ]; then
	log "profiles"
	if command -v perf >/dev/null; then
		perf_during signhash-rsa2048-b64-c2 4 \
			"prof.hash.rsa2048.b64.c2" rsa "$SEAL_RSA2" 64 2 6 8000
		perf_during signhash-ec256-b1-c1 4 \
			"prof.hash.ec256.b1.c1" ec "$SEAL_EC" 1 1 6 8000
	fi
	if command -v valgrind >/dev/null; then
		# a second cisresd on the same state under callgrind, instrumented
		# only while a signHash load runs (its processes, by pid)
		port2=$(free_port)
		valgrind --tool=callgrind --instr-atstart=no --trace-children=yes \
			--callgrind-out-file="$W/callgrind.server.%p" "$BUILD/cisresd" --state-dir "$STATE" \
			--listen "127.0.0.1:$port2" --foreground >"$W/server2.out" \
			2>"$W/logs/cisresd-callgrind.log" &
		vpid=$!
		for _ in $(seq 1 1200); do
			[ "$(wc -l <"$W/server2.out")" -ge 2 ] && break
			kill -0 "$vpid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$vpid" 2>/dev/null; then
			for p in $(server_pids "$vpid" | tr ',' ' '); do
				callgrind_control -i on "$p" >/dev/null 2>&1 || true
			done
			CSC_URL_SAVED=$CSC_URL
			CSC_URL=https://127.0.0.1:$port2/csc/v2/
			hash_run "prof.callgrind.ec256.b1.c1" ec "$SEAL_EC" 1 1 120 1000
			CSC_URL=$CSC_URL_SAVED
			kill -TERM "$vpid" 2>/dev/null || true
			wait "$vpid" 2>/dev/null || true
			sleep 1
			for f in "$W"/callgrind.server.*; do
				[ -s "$f" ] || continue
				{
					echo "# callgrind, $(basename "$f") while serving 1000 signHash (EC P-256, 1 hash)"
					echo "# (plus one auth/login and one credentials/authorize: kdf_verify is their scrypt)"
					callgrind_annotate --inclusive=yes "$f" 2>/dev/null |
						grep -E '^ *[0-9,]+ \(' | grep -v '???:0x' | head -n 40 || true
				} >"$W/profile-callgrind-$(basename "$f").txt"
			done
		fi
		home_env "$SIGNHOME"
		"${HENV[@]}" valgrind --tool=callgrind --callgrind-out-file="$W/callgrind.module" \
			"$BB/bench_p11sign" --module "$MODULE" --token "CISRES seal" --key ec --bits 256 \
			--count 1000 --warmup 5 --pin-env BENCH_PIN >/dev/null 2>"$W/logs/callgrind.err" || true
		{
			echo "# callgrind, bench_p11sign through cisres-pkcs11.so (e-seal EC P-256, 1000 C_Sign"
			echo "# after C_Initialize + C_Login): inclusive Ir of the module's functions"
			callgrind_annotate --inclusive=yes "$W/callgrind.module" 2>/dev/null |
				grep -E '^ *[0-9,]+ \(' | grep -E 'PROGRAM TOTALS|cisres-pkcs11.so|C_Sign|curl_easy_perform' |
				head -n 30 || true
		} >"$W/profile-callgrind-module.txt"
	fi
fi

# ---- the table ----
{
	echo "== machine =="
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
	echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r)"
	echo "load average (1/5/15 min): at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "store file system: $(stat -f -c %T "$W") ($(df --output=source "$W" | tail -n1))"
	echo "== versions =="
	echo "cisres: $("$BUILD/cisresd" --version | awk '{print $2}') ($(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)), $(grep -m1 CMAKE_BUILD_TYPE: "$BUILD/CMakeCache.txt" | cut -d= -f2)"
	printf '%s\n' "$(dpkg-query -W -f '${Package} ${Version}\n' openssl libssl3 softhsm2 p11-kit \
		libcurl4 libmicrohttpd12 libgnutls30 libsqlite3-0 libcjson1 2>/dev/null | tr '\n' ';' |
		sed 's/;$//; s/;/; /g')"
	echo "== settings =="
	echo "cisresd: defaults (a thread per HTTP connection, 2 x CPUs SAM connections and HSM sessions, SQLite WAL synchronous=FULL, audit group commit, PIN verifiers HMAC in the HSM)"
	echo "module: defaults; e-seal credentials SCAL1 PIN multisign 1000; SCAL2 credentials PIN only (see docs/performance.md)"
	echo "C_Sign: SHA-256 digests, CKM_ECDSA / CKM_RSA_PKCS; $SIGN_ROUNDS interleaved rounds; n per thread over the rounds: ec $SIGN_N_EC, rsa-2048 $SIGN_N_RSA2, rsa-3072 $SIGN_N_RSA3, SCAL2 $SIGN_N_SCAL2"
	echo "signHash: ${HASH_SECONDS}s per point, keep-alive HTTPS per client, SADs authorized before the clock"
	echo "listing: $LIST_ITER iterations, cisresd stopped (SIGSTOP) while measuring"
	echo "growth: EC P-256 signHash, 1 hash, 1 client, $GROW_N requests per size in $GROW_ROUNDS rounds, each beside the same on a reference server with a 1-user store"
	python3 "$SRC/tests/bench/bench_table.py" "$RES"
	for f in "$W"/profile-*.txt; do
		[ -f "$f" ] || continue
		echo "== $(basename "$f" .txt) =="
		cat "$f"
	done
} | tee "$W/table.txt"
[ -n "$OUT" ] && cp "$W/table.txt" "$OUT"
if grep -q 'failed=1' "$RES"; then
	log "some cases failed: $(grep 'failed=1' "$RES" | cut -d' ' -f1 | tr '\n' ' ')"
	exit 1
fi
exit 0
