#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 in the middle of signing, loopback only, bounded in time.
#  (a) kill -9 of the cisresd HTTP process while tests/bench/bench_signhash
#      signs from 8 clients (--tolerate-errors: it goes on through refused
#      connections and refused SADs): the monitor and the SAM process must
#      exit with it; cisresd restarts on the same state directory and port and
#      the client carries on. A SAD authorized before the kill (3 signatures,
#      1 used) is refused after the restart.
#  (b) kill -9 of the SAM process only: the monitor starts a new one; the
#      old SAD is refused, new authorizations work, the client carries on.
#  (c) one long-lived process with the PKCS#11 module loaded
#      (bench_p11sign --interval) signs with the e-seal credential every
#      50 ms across a kill -9 + restart of cisresd: the signatures fail while
#      the server is down and succeed again afterwards in the same process
#      and session; every signature is verified with OpenSSL.
# After each: `cisres-admin audit verify` reports the chain intact; every
# acknowledged signature (HTTP 200, verified) is in a success "sign" record;
# no digest is in two success records; no SAD is spent beyond the count it
# was authorized for (sum of "spent" per sadRef <= numSignatures of its
# "authorize" record).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/p11_lib.sh"

BB=$CISRES_BUILD/tests/bench
if [ ! -x "$BB/bench_signhash" ] || [ ! -x "$BB/bench_p11sign" ]; then
	note "no bench_signhash/bench_p11sign in $BB (benchmarks not built): skipped"
	exit 77
fi
T0=$(date +%s)
cisres_start_server
PORT=${CISRES_BASE##*:}
W=$CISRES_TMP/work
mkdir -p "$W"
BG_PIDS=()
# shellcheck disable=SC2154 # _rc is set inside the trap
trap '_rc=$?; for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; set +e; (exit $_rc); cisres_cleanup' EXIT

OID_SHA256=2.16.840.1.101.3.4.2.1
OID_ES256=1.2.840.10045.4.3.2
PW='kill-Pw-1234'
PIN=135790

# ---- helpers ----

now_ms() { date +%s%3N; }

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_gone PID SECONDS: true when PID is gone within SECONDS.
wait_gone() {
	for _ in $(seq 1 $(($2 * 10))); do
		alive "$1" || return 0
		sleep 0.1
	done
	! alive "$1"
}

# server_pids: MON_PID and SAM_PID of the running cisresd.
server_pids() {
	MON_PID='' SAM_PID=''
	for _ in $(seq 1 100); do
		MON_PID=$(pgrep -P "$CISRES_SERVER_PID" -x cisres-sam-mon || true)
		[ -n "$MON_PID" ] && SAM_PID=$(pgrep -P "$MON_PID" -x cisres-sam || true)
		[ -n "$SAM_PID" ] && return 0
		sleep 0.1
	done
	fail "no monitor/SAM process under cisresd $CISRES_SERVER_PID"
}

# restart_server: cisresd again on the same state directory and port.
restart_server() {
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		"$CISRES_BUILD/cisresd" --state-dir "$CISRES_STATE" --listen "127.0.0.1:$PORT" \
			--foreground >>"$CISRES_TMP/server.out" 2>>"$CISRES_TMP/server.log" &
		CISRES_SERVER_PID=$!
		for _ in $(seq 1 100); do
			alive "$CISRES_SERVER_PID" || break
			if [ "$(curl -s --cacert "$CISRES_CA" "$CISRES_BASE/health" 2>/dev/null)" = ok ]; then
				server_pids
				return 0
			fi
			sleep 0.1
		done
		# the port may still be held for a moment: try again
		note "restart attempt $try failed: $(tail -n1 "$CISRES_TMP/server.log")"
		kill -KILL "$CISRES_SERVER_PID" 2>/dev/null || true
		wait "$CISRES_SERVER_PID" 2>/dev/null || true
		sleep 0.2
	done
	fail "cisresd does not come back on port $PORT"
}

# kill_http: kill -9 the HTTP process; the monitor and the SAM must follow.
kill_http() {
	local mon=$MON_PID sam=$SAM_PID t
	t=$(now_ms)
	kill -KILL "$CISRES_SERVER_PID"
	wait "$CISRES_SERVER_PID" 2>/dev/null || true
	CISRES_SERVER_PID=
	if ! wait_gone "$mon" 10; then
		kill -KILL "$mon" "$sam" 2>/dev/null || true
		fail "the monitor $mon survived kill -9 of the HTTP process"
	fi
	if ! wait_gone "$sam" 10; then
		kill -KILL "$sam" 2>/dev/null || true
		fail "the SAM process $sam survived kill -9 of the HTTP process"
	fi
	note "kill -9 of the HTTP process: the monitor and the SAM process exited within $(($(now_ms) - t)) ms"
	if curl -s --max-time 2 --cacert "$CISRES_CA" "$CISRES_BASE/health" >/dev/null 2>&1; then
		fail "the server still answers after kill -9"
	fi
}

# authorize N: a SAD for the e-seal credential (PIN), in $SAD.
authorize() {
	csc credentials/authorize "{\"credentialID\":\"$CRED\",\"numSignatures\":$1,\"authData\":[{\"id\":\"PIN\",\"value\":\"$PIN\"}]}" "$TOK"
	assert_status 200 "credentials/authorize"
	SAD=$(jget SAD)
	[ -n "$SAD" ] || fail "no SAD"
}

# sign_hash SAD: signHash of one fresh digest (answer in CSC_STATUS/CSC_BODY).
sign_hash() {
	local h
	h=$(head -c 32 /dev/urandom | b64)
	csc signatures/signHash "{\"credentialID\":\"$CRED\",\"SAD\":\"$1\",\"hashAlgorithmOID\":\"$OID_SHA256\",\"signAlgo\":\"$OID_ES256\",\"hashes\":[\"$h\"]}" "$TOK"
}

lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# wait_lines FILE N SECONDS [PID]: until FILE has N lines.
wait_lines() {
	for _ in $(seq 1 $(($3 * 10))); do
		[ "$(lines "$1")" -ge "$2" ] && return 0
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			fail "the client exited early: $(cat "$1.err" 2>/dev/null)"
		fi
		sleep 0.1
	done
	fail "$1: fewer than $2 lines after $3 s (has $(lines "$1"))"
}

# start_load NAME SEED: bench_signhash in the background, 8 clients, batch 1,
# every signature verified, acknowledged digests in $W/NAME.ack.
start_load() {
	"$BB/bench_signhash" --url "$CISRES_URL" --ca "$CISRES_CA" --user seal \
		--password-env KILL_PW --pin-env KILL_PIN --cred "$CRED" --key ec --batch 1 \
		--clients 8 --multisign 1000 --max-sigs 1000000 --seconds 240 --seed "$2" \
		--tolerate-errors --verify-cert "$W/cert.pem" --ack-log "$W/$1.ack" \
		--stop-file "$W/$1.stop" --name "$1" >"$W/$1.out" 2>"$W/$1.ack.err" &
	LOAD_PID=$!
	BG_PIDS+=("$LOAD_PID")
}

# end_load NAME: stop the client, check its result line.
end_load() {
	local rc=0 r
	touch "$W/$1.stop"
	wait "$LOAD_PID" || rc=$?
	r=$(grep '^bench=' "$W/$1.out" | tail -n1 || true)
	if [ "$rc" != 0 ] || [ -z "$r" ]; then
		fail "bench_signhash $1 failed (exit $rc): $(cat "$W/$1.ack.err") $r"
	fi
	kv() { printf '%s\n' "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	note "$1: $(kv sigs) signatures acknowledged and verified; tolerated: $(kv conn_errors)" \
		"connection errors, $(kv http_errors) error answers, $(kv sad_refused) refused SADs," \
		"$(kv auth_errors) failed authorizations; $(kv reauth) SADs re-authorized"
	if [ "$(kv errors)" != 0 ]; then
		note "$1: last tolerated error: $(sed -n 's/^bench_signhash: .*; last: //p' "$W/$1.ack.err" | cut -c1-160)"
	fi
	assert_eq "$(kv bad_sigs)" 0 "$1: signatures that do not verify"
	assert_eq "$(kv sigs)" "$(lines "$W/$1.ack")" "$1: acknowledged digests logged"
	[ "$(kv reauth)" -ge 1 ] || fail "$1: the client never needed a fresh SAD"
}

# check_audit ACK_FILES...: the chain, the acknowledged digests, no double
# spend.
check_audit() {
	local out
	out=$(admin audit verify) || fail "audit verify: $out"
	assert_contains "$out" "chain intact" "audit verify"
	note "$out"
	admin audit show --json >"$W/audit.json" || fail "audit show --json"
	out=$("$PY" - "$W/audit.json" "$@" <<'EOF'
import base64, collections, json, sys
auth, spent, seen = {}, collections.Counter(), collections.Counter()
failed = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["action"] not in ("authorize", "sign"):
        continue
    d = json.loads(r["detail"])
    if r["outcome"] != "success":
        failed += r["action"] == "sign"
        continue
    if r["action"] == "authorize":
        if d["sadRef"] in auth:
            sys.exit("sadRef %s authorized twice" % d["sadRef"])
        auth[d["sadRef"]] = d["numSignatures"]
    else:
        for h in d["hashes"]:
            seen[h] += 1
        spent[d["sadRef"]] += d.get("spent", len(d["hashes"]))
acked = []
for f in sys.argv[2:]:
    acked += [base64.b64decode(l.strip()).hex() for l in open(f) if l.strip()]
missing = [h for h in acked if seen[h] == 0]
dups = [h for h, c in seen.items() if c > 1]
over = [s for s, c in spent.items() if s not in auth or c > auth[s]]
print("%d success sign records' digests, %d failed sign records, %d SADs; "
      "%d acknowledged digests, %d missing from the log, %d digests signed twice, "
      "%d SADs overspent" % (len(seen), failed, len(auth), len(acked), len(missing),
                             len(dups), len(over)))
if missing or dups or over:
    print("missing: %s dups: %s overspent: %s" % (missing[:5], dups[:5], over[:5]))
    sys.exit(1)
EOF
) || fail "audit log check: $out"
	note "audit: $out"
}

# ---- set-up ----

step "enroll a signer with an EC P-256 e-seal credential (SCAL1, PIN, multisign 1000)"
enroll_user seal "$PW" >/dev/null
CRED=$(enroll_cred seal "$PIN" --key ec-p256 --scal 1 --auth pin --multisign 1000)
TOK=$(login seal "$PW")
csc credentials/info "{\"credentialID\":\"$CRED\"}" "$TOK"
assert_status 200 "credentials/info"
cert_pem_from_b64 "$(jget cert.certificates.0)" "$W/cert.pem"
export KILL_PW=$PW KILL_PIN=$PIN
server_pids
note "cisresd $CISRES_SERVER_PID, monitor $MON_PID, SAM $SAM_PID"

# ---- (a) kill -9 of the HTTP process ----

step "(a) a SAD for 3 signatures, 1 used, before the kill"
authorize 3
SAD_A=$SAD
sign_hash "$SAD_A"
assert_status 200 "signHash with the fresh SAD"

step "(a) 8 clients sign; kill -9 of the HTTP process in the middle"
start_load a 301
wait_lines "$W/a.ack" 500 60 "$LOAD_PID"
kill_http
ACK_KILL=$(lines "$W/a.ack")
note "killed after $ACK_KILL acknowledged signatures"
sleep 1
[ "$(lines "$W/a.ack")" = "$ACK_KILL" ] || fail "signatures acknowledged while the server was dead"

step "(a) restart cisresd on the same state directory and port"
restart_server
ACK_UP=$(lines "$W/a.ack")
note "cisresd $CISRES_SERVER_PID, monitor $MON_PID, SAM $SAM_PID"

step "(a) the SAD from before the kill is refused; a new one works"
sign_hash "$SAD_A"
assert_error 400 invalid_request "Invalid SAD"
authorize 3
sign_hash "$SAD"
assert_status 200 "signHash with a SAD authorized after the restart"

step "(a) the client carries on after the restart"
wait_lines "$W/a.ack" $((ACK_UP + 500)) 60 "$LOAD_PID"
end_load a
check_audit "$W/a.ack"

# ---- (b) kill -9 of the SAM process ----

step "(b) a SAD for 3 signatures, 1 used, before the kill"
authorize 3
SAD_B=$SAD
sign_hash "$SAD_B"
assert_status 200 "signHash with the fresh SAD"

step "(b) 8 clients sign; kill -9 of the SAM process only"
start_load b 302
wait_lines "$W/b.ack" 500 60 "$LOAD_PID"
OLD_SAM=$SAM_PID
OLD_MON=$MON_PID
kill -KILL "$OLD_SAM"
wait_gone "$OLD_SAM" 10 || fail "the SAM process $OLD_SAM did not die"
T_SAM=$(now_ms)
ACK_KILL=$(lines "$W/b.ack")
for _ in $(seq 1 100); do
	SAM_PID=$(pgrep -P "$OLD_MON" -x cisres-sam || true)
	[ -n "$SAM_PID" ] && [ "$SAM_PID" != "$OLD_SAM" ] && break
	sleep 0.1
done
if [ -z "$SAM_PID" ] || [ "$SAM_PID" = "$OLD_SAM" ]; then
	fail "the monitor started no new SAM process"
fi
alive "$CISRES_SERVER_PID" || fail "the HTTP process died with the SAM process"
alive "$OLD_MON" || fail "the monitor died with the SAM process"
note "SAM $OLD_SAM killed after $ACK_KILL acknowledged signatures; new SAM $SAM_PID within $(($(now_ms) - T_SAM)) ms"

step "(b) the SAD from before the kill is refused; a new one works"
for _ in $(seq 1 50); do
	sign_hash "$SAD_B"
	[ "$CSC_STATUS" != 503 ] && [ "$CSC_STATUS" != 500 ] && break # the new SAM process may still be opening
	sleep 0.2
done
assert_error 400 invalid_request "Invalid SAD"
authorize 3
sign_hash "$SAD"
assert_status 200 "signHash with a SAD authorized after the SAM restart"
ACK_UP=$(lines "$W/b.ack")

step "(b) the client carries on with the new SAM process"
wait_lines "$W/b.ack" $((ACK_UP + 500)) 60 "$LOAD_PID"
end_load b
check_audit "$W/a.ack" "$W/b.ack"

# ---- (c) the PKCS#11 module in one long-lived process ----

step "(c) a workstation logged in with cisres login; the module signs every 50 ms"
export XDG_CONFIG_HOME=$W/p11/config XDG_CACHE_HOME=$W/p11/cache HOME=$W/p11/home
unset CISRES_PKCS11_CONF CISRES_DEBUG
mkdir -p "$HOME"
p11_login seal "$PW"
P11LOG=$W/p11.log
"$BB/bench_p11sign" --module "$MOD" --token "CISRES seal" --key ec --bits 256 \
	--pin-env KILL_PIN --interval 50 --seconds 240 --count 100000 --warmup 1 \
	--stop-file "$W/p11.stop" --verify-cert "$W/cert.pem" --log "$P11LOG" --name p11 \
	>"$W/p11.out" 2>"$W/p11.err" &
P11_PID=$!
BG_PIDS+=("$P11_PID")
wait_lines "$P11LOG" 20 60 "$P11_PID"

step "(c) kill -9 of cisresd; the module's signatures fail while it is down"
T_KILL=$(now_ms)
kill_http
sleep 2
T_RESTART=$(now_ms)
restart_server
T_UP=$(now_ms)
note "server down from $T_KILL to $T_UP ($((T_UP - T_KILL)) ms)"

step "(c) the same process signs again after the restart"
n0=$(lines "$P11LOG")
wait_lines "$P11LOG" $((n0 + 40)) 60 "$P11_PID"
touch "$W/p11.stop"
rc=0
wait "$P11_PID" || rc=$?
r=$(grep '^bench=' "$W/p11.out" | tail -n1 || true)
if [ "$rc" != 0 ] || [ -z "$r" ]; then
	fail "bench_p11sign failed (exit $rc): $(cat "$W/p11.err") $r"
fi
out=$("$PY" - "$P11LOG" "$T_KILL" "$T_RESTART" "$T_UP" <<'EOF'
import collections, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
t_kill, t_restart, t_up = (int(x) for x in sys.argv[2:5])
before = [r for r in rows if int(r[0]) < t_kill]
down = [r for r in rows if t_kill + 100 <= int(r[0]) < t_restart]
after = [r for r in rows if int(r[0]) >= t_up]
bad = [r for r in rows if r[2] == "bad"]
fails = collections.Counter(r[1] for r in rows if r[2] == "fail")
msg = ("%d attempts: before the kill %d (%d ok), while down %d (%d failed), after the "
       "restart %d (%d ok); failures by CK_RV: %s; bad signatures: %d"
       % (len(rows), len(before), sum(r[2] == "ok" for r in before), len(down),
          sum(r[2] == "fail" for r in down), len(after), sum(r[2] == "ok" for r in after),
          dict(fails) or "none", len(bad)))
print(msg)
errs = []
if bad:
    errs.append("signatures that do not verify")
if not before or any(r[2] != "ok" for r in before):
    errs.append("failures before the kill")
if len(down) < 5 or any(r[2] != "fail" for r in down):
    errs.append("signing did not fail while the server was down")
if set(fails) - {"0x30"}:
    errs.append("failures other than CKR_DEVICE_ERROR (0x30)")
if len(after) < 20:
    errs.append("too few attempts after the restart")
# after the restart: at most a short run of failures (reconnect,
# re-authorization), then only successes
tail = after[10:]
if not tail or any(r[2] != "ok" for r in tail):
    errs.append("signing did not recover after the restart")
if errs:
    sys.exit(msg + ": " + "; ".join(errs))
EOF
) || fail "module across the restart: $out"
note "$out"
check_audit "$W/a.ack" "$W/b.ack"

ELAPSED=$(($(date +%s) - T0))
note "elapsed $ELAPSED s"
