#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turn the tagged result lines of scripts/bench.sh into the tables of
docs/performance.md: C_Sign, signHash, listing, growth, and the targets of
issue 6 with the ratios measured in this run."""
import re
import sys


def load(path):
    cases = {}
    for line in open(path):
        kv = {}
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                kv[k] = v
        if "case" in kv:
            cases.setdefault(kv["case"], {}).update(kv)
    return cases


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def merge_rounds(cs):
    """Cases tagged NAME.rN are rounds of NAME: keep the median of each
    number over the rounds (and the sum of n); a failed round fails NAME."""
    groups = {}
    for k, v in cs.items():
        m = re.match(r"^(.*)\.r(\d+)$", k)
        if m:
            groups.setdefault(m.group(1), []).append(v)
    for name, rounds in groups.items():
        out = {"case": name, "rounds": str(len(rounds))}
        keys = set()
        for r in rounds:
            keys.update(r)
        for key in keys:
            vals = []
            for r in rounds:
                try:
                    vals.append(float(r[key]))
                except (KeyError, ValueError):
                    pass
            if key == "n":
                out[key] = "%d" % sum(vals)
            elif vals and key not in ("case",):
                out[key] = "%g" % median(vals)
        if any(r.get("failed") for r in rounds):
            out["failed"] = "1"
        if any(r.get("retried") for r in rounds):
            out["retried"] = "1"
        cs.setdefault(name, {}).update(out)
    return cs


def num(c, key):
    try:
        return float(c[key])
    except (KeyError, TypeError, ValueError):
        return None


def fmt(v, unit=""):
    if v is None:
        return "—"
    if v >= 1000:
        return "%.0f%s" % (v, unit)
    if v >= 100:
        return "%.0f%s" % (v, unit)
    if v >= 10:
        return "%.1f%s" % (v, unit)
    return "%.2f%s" % (v, unit)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(head, rows):
    w = [len(h) for h in head]
    for r in rows:
        for i, x in enumerate(r):
            w[i] = max(w[i], len(x))
    out = ["| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |"]
    out.append("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        out.append("| " + " | ".join(x.ljust(w[i]) for i, x in enumerate(r)) + " |")
    print("\n".join(out))
    print()


KEYS = [("ec256", "EC P-256"), ("rsa2048", "RSA-2048"), ("rsa3072", "RSA-3072")]
IMPLS = [("softhsm", "SoftHSM direct"), ("p11kit", "p11-kit fwd"), ("seal", "cisres e-seal"),
         ("scal2", "cisres SCAL2")]


def sign_table(cs):
    if not any(k.startswith("sign.") for k in cs):
        return
    print("== 1. C_Sign: p50 / p99 latency (µs) / throughput (signatures/s); median of rounds ==")
    head = ["key", "thr"]
    for _, name in IMPLS:
        head.append(name)
    head += ["e-seal/p11-kit p50", "SCAL2/p11-kit p50"]
    rows = []
    for t in (1, 2):
        for tk, kname in KEYS:
            r = [kname, str(t)]
            for impl, _ in IMPLS:
                c = cs.get("sign.%s.%s.t%d" % (impl, tk, t), {})
                if c.get("failed"):
                    r.append("FAILED")
                    continue
                r.append("%s / %s / %s/s" % (fmt(num(c, "p50_us")), fmt(num(c, "p99_us")),
                                             fmt(num(c, "ops_per_s"))))
            base = num(cs.get("sign.p11kit.%s.t%d" % (tk, t), {}), "p50_us")
            for impl in ("seal", "scal2"):
                q = ratio(num(cs.get("sign.%s.%s.t%d" % (impl, tk, t), {}), "p50_us"), base)
                r.append(fmt(q, "×"))
            rows.append(r)
    table(head, rows)


def hash_table(cs):
    if not any(k.startswith("hash.") for k in cs):
        return
    clients = sorted({int(k.split(".c")[-1]) for k in cs if k.startswith("hash.")})
    print("== 2. signatures/signHash throughput (signatures/s; p50 request latency ms) ==")
    head = ["key", "batch"] + ["%d cl" % c for c in clients] + ["SoftHSM 1 thr", "SoftHSM 2 thr"]
    rows = []
    for tk, kname in KEYS:
        if not any(k.startswith("hash.%s." % tk) for k in cs):
            continue
        for b in (1, 16, 64):
            r = [kname, str(b)]
            for c in clients:
                x = cs.get("hash.%s.b%d.c%d" % (tk, b, c))
                if x is None:
                    r.append("—")
                elif x.get("failed"):
                    r.append("FAILED")
                else:
                    r.append("%s (%s)" % (fmt(num(x, "sigs_per_s")),
                                          fmt((num(x, "p50_us") or 0) / 1000)))
            for t in (1, 2):
                r.append(fmt(num(cs.get("hsm.%s.t%d" % (tk, t), {}), "ops_per_s")))
            rows.append(r)
    table(head, rows)


def list_table(cs):
    if not any(k.startswith("list.") for k in cs):
        return
    print("== 3. Token listing through cisres-pkcs11.so, server stopped (µs) ==")
    head = ["credentials", "objects", "p50", "p99", "max", "p50 +attrs", "p99 +attrs",
            "C_Initialize", "first listing"]
    rows = []
    sizes = sorted({int(k.split(".")[1]) for k in cs if k.startswith("list.")})
    for n in sizes:
        a = cs.get("list.%d" % n)
        b = cs.get("list.%d.attrs" % n, {})
        if a is None:
            continue
        if a.get("failed"):
            rows.append([str(n), "%s (FAILED)" % a.get("objects", "?")] + [""] * 7)
            continue
        rows.append([str(n), a.get("objects", "?"), fmt(num(a, "p50_us")), fmt(num(a, "p99_us")),
                     fmt(num(a, "max_us")), fmt(num(b, "p50_us")), fmt(num(b, "p99_us")),
                     fmt(num(a, "init_us")), fmt(num(a, "first_us"))])
    table(head, rows)


def grow_sizes(cs):
    return sorted({int(k.split(".")[1]) for k in cs
                   if k.startswith("grow.") and not re.search(r"\.r\d+$", k)})


def grow_table(cs):
    sizes = grow_sizes(cs)
    if not sizes:
        return
    print("== 4. signHash (EC P-256, 1 hash, 1 client) as the store grows; median of rounds ==")
    print("(ref: the same requests to a second cisresd with a 1-user store, in the same rounds)")
    head = ["users", "credentials", "tokens", "store MB", "p50 µs", "p99 µs", "req/s",
            "ref p50 µs", "p50 / ref", "p50 vs 10 (paired)"]
    rows = []
    base = paired(cs, sizes[0])
    for s in sizes:
        c = cs.get("grow.%d" % s, {})
        db = num(c, "db_bytes")
        rows.append([c.get("users", str(s)), c.get("credentials", "?"), c.get("tokens", "?"),
                     fmt(db / 1e6 if db else None), fmt(num(c, "p50_us")), fmt(num(c, "p99_us")),
                     fmt(num(c, "req_per_s")), fmt(num(cs.get("growref.%d" % s, {}), "p50_us")),
                     fmt(paired(cs, s), "×"), fmt(ratio(paired(cs, s), base), "×")])
    table(head, rows)


def paired(cs, size):
    """p50 of the growing store over p50 of the reference in the same rounds."""
    return ratio(num(cs.get("grow.%d" % size, {}), "p50_us"),
                 num(cs.get("growref.%d" % size, {}), "p50_us"))


def targets(cs):
    print("== Targets (issue 6), ratios from this run ==")
    rows = []

    def ok(case):
        c = cs.get(case)
        return c is not None and not c.get("failed")

    def p50(case):
        return num(cs.get(case, {}), "p50_us") if ok(case) else None

    def add(what, value, limit, ok):
        if value is None:
            rows.append([what, "not measured", limit, "—"])
        else:
            rows.append([what, value, limit, "met" if ok else "MISSED"])

    q = ratio(p50("sign.seal.ec256.t1"), p50("sign.p11kit.ec256.t1"))
    add("e-seal EC P-256 C_Sign p50 / p11-kit", fmt(q, "×") if q else None, "≤ 1.5×",
        q is not None and q <= 1.5)
    q = ratio(p50("sign.seal.rsa2048.t1"), p50("sign.p11kit.rsa2048.t1"))
    add("e-seal RSA-2048 C_Sign p50 / p11-kit", fmt(q, "×") if q else None, "≤ 1.1×",
        q is not None and q <= 1.1)
    q = ratio(p50("sign.scal2.ec256.t1"), p50("sign.p11kit.ec256.t1"))
    add("SCAL2 EC P-256 C_Sign p50 / p11-kit", fmt(q, "×") if q else None, "≤ 3×",
        q is not None and q <= 3)
    a, b = "tgt.hash.rsa2048.b64.c2", "tgt.hsm.rsa2048.t2"
    if a not in cs:
        a, b = "hash.rsa2048.b64.c2", "hsm.rsa2048.t2"
    q = ratio(num(cs.get(a, {}), "sigs_per_s") if ok(a) else None,
              num(cs.get(b, {}), "ops_per_s") if ok(b) else None)
    add("signHash RSA-2048 batch 64, 2 clients / SoftHSM 2 threads (%s / %s sig/s)"
        % (fmt(num(cs.get(a, {}), "sigs_per_s")), fmt(num(cs.get(b, {}), "ops_per_s"))),
        fmt(q, "×") if q else None,
        "≥ 0.9×", q is not None and q >= 0.9)
    if cs.get("list.1000", {}).get("failed"):
        rows.append(["listing 1000 credentials p99 (server stopped)",
                     "FAILED: %s objects listed" % cs["list.1000"].get("objects", "?"),
                     "< 1000 µs", "MISSED"])
    else:
        v = num(cs.get("list.1000", {}), "p99_us")
        add("listing 1000 credentials p99 (server stopped)", fmt(v, " µs") if v else None,
            "< 1000 µs", v is not None and v < 1000)
    sizes = grow_sizes(cs)
    if len(sizes) >= 2:
        q = ratio(paired(cs, sizes[-1]), paired(cs, sizes[0]))
        if q is None:  # no reference runs
            q = ratio(p50("grow.%d" % sizes[-1]), p50("grow.%d" % sizes[0]))
        add("signHash p50 at %d users / at %d (paired with the reference)"
            % (sizes[-1], sizes[0]), fmt(q, "×") if q else None, "≤ 1.2×",
            q is not None and q <= 1.2)
    table(["target", "measured", "limit", ""], rows)


def fsync_line(cs):
    probes = sorted(k for k in cs if k.startswith("fsync."))
    if probes:
        print("store disk fdatasync (4 KiB appends) p50/p99 µs: " + "; ".join(
            "%s %s/%s" % (k.split(".", 1)[1], fmt(num(cs[k], "p50_us")), fmt(num(cs[k], "p99_us")))
            for k in probes))


def main():
    cs = merge_rounds(load(sys.argv[1]))
    fsync_line(cs)
    print()
    sign_table(cs)
    hash_table(cs)
    list_table(cs)
    grow_table(cs)
    targets(cs)
    bad = sorted(k for k, v in cs.items() if v.get("failed") and not re.search(r"\.r\d+$", k))
    retried = sorted(k for k, v in cs.items()
                     if v.get("retried") and not re.search(r"\.r\d+$", k))
    if bad:
        print("failed cases: " + ", ".join(bad))
    if retried:
        print("cases that needed a retry: " + ", ".join(retried))


if __name__ == "__main__":
    main()
