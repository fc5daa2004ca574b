#!/usr/bin/env python3
"""Bulk seeding for the benchmark: offers, end users, pending offer applications and their
queue jobs, written straight into the database (SQLite through the sqlite3 module,
PostgreSQL through `psql` and COPY), never through the API. The organization itself is
created by `saveloops org create`, so its key is a real one.

    seed.py offers       --db DB --org ID --count N              prints the offer ids
    seed.py users        --db DB --org ID --count N [--dunning F]
    seed.py applications --db DB --org ID --offer ID --count N [--queue-db]
    seed.py redis-jobs   --from A --to B --prefix P    (RESP for `redis-cli --pipe`)
    seed.py tokens       --kid KID --secret SECRET --users N --count C
                         (session tokens for seeded end users, one per line, signed HS256
                         as a company's backend signs them)
    seed.py drain        --db DB --from A --to B [--wait N --timeout S]
                         (applied count, first/last applied; with --wait, once N are applied)
    seed.py stripe-events --secret S --count N --prefix P --out FILE [--redeliver F]
                         (signed Stripe events, one `Stripe-Signature<TAB>body` per line)
    seed.py stripe-check --db DB --org ID --prefix P
                         (events stored, failures applied, failures counted on end users)

DB is `sqlite:PATH` or `postgres:CONNINFO` (a psql connection string).
"""
import argparse
import datetime
import io
import json
import random
import sqlite3
import subprocess
import sys
import time

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def ts(dt):
    # sqlx's own text form of a DateTime<Utc> on SQLite; PostgreSQL parses it as well.
    return dt.isoformat()


class Db:
    def __init__(self, spec):
        self.kind, _, self.target = spec.partition(":")
        if self.kind == "sqlite":
            self.conn = sqlite3.connect(self.target, timeout=30)
        elif self.kind != "postgres":
            sys.exit(f"unknown database {spec}")

    def copy(self, table, columns, rows):
        """Inserts rows (tuples; None is NULL) in one transaction."""
        if self.kind == "sqlite":
            marks = ",".join("?" for _ in columns)
            with self.conn:
                self.conn.executemany(
                    f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
            return
        buf = io.StringIO()
        for row in rows:
            buf.write("\t".join(pg_text(v) for v in row))
            buf.write("\n")
        sql = f"COPY {table} ({','.join(columns)}) FROM STDIN"
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.target, "-c", sql],
                       input=buf.getvalue(), text=True, check=True)

    def query(self, sql):
        if self.kind == "sqlite":
            return [tuple(r) for r in self.conn.execute(sql).fetchall()]
        out = subprocess.run(["psql", "-qAt", "-F", "\t", self.target, "-c", sql],
                             capture_output=True, text=True, check=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def execute(self, sql):
        if self.kind == "sqlite":
            with self.conn:
                self.conn.execute(sql)
        else:
            subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.target, "-c", sql],
                           check=True, capture_output=True)

    def bool(self, b):
        return (1 if b else 0) if self.kind == "sqlite" else ("t" if b else "f")


def pg_text(v):
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def offer_rows(db, org, count):
    """`count` offers. A handful fit the benchmark's intercept (target `cancel-btn` or no
    target, some limited by trigger or MRR); the rest belong to other targets, so the
    answer stays the same size while the catalog grows."""
    kinds = [
        ("discount", 20, {"duration": "once"}),
        ("pause", 1, {"behavior": "void"}),
        ("trial_extension", 14, {}),
        ("downgrade", 1, {"price_id": "price_basic"}),
        ("contact", 0, {"url": "https://example.com/call"}),
        ("discount", 30, {"duration": "repeating", "duration_in_months": 3}),
    ]
    rows = []
    for i in range(count):
        kind, value, config = kinds[i % len(kinds)]
        if i < 6:
            target = "cancel-btn" if i % 3 else None
        else:
            target = f"page-{i}"
        triggers = ["click"] if i % 4 == 1 else ([] if i % 4 else ["click", "exit_intent"])
        min_mrr = 10 * 10_000 if i % 5 == 2 else None
        max_mrr = 1000 * 10_000 if i % 5 == 2 else None
        rows.append((org, kind, float(value), f"Offer {i + 1}: {kind}", json.dumps(config),
                     target, json.dumps(triggers), min_mrr, max_mrr, count - i,
                     db.bool(True), ts(NOW), ts(NOW)))
    return rows


def cmd_offers(a):
    db = Db(a.db)
    db.copy("offers", ["organization_id", "type", "value", "label", "config", "target_id",
                       "triggers", "min_mrr_e4", "max_mrr_e4", "priority", "active",
                       "created_at", "updated_at"], offer_rows(db, a.org, a.count))
    ids = db.query(f"SELECT id FROM offers WHERE organization_id = {a.org} ORDER BY id")
    print(",".join(str(r[0]) for r in ids))


def cmd_users(a):
    db = Db(a.db)
    rnd = random.Random(7)
    rows = []
    for i in range(a.start, a.start + a.count):
        dunning = rnd.random() < a.dunning
        succeeded = rnd.random() < 0.5
        failed_at = ts(NOW - datetime.timedelta(days=rnd.randint(1, 20))) if dunning else None
        rows.append((a.org, f"user{i}@bench.test", f"cus_bench{i}", db.bool(dunning),
                     rnd.randint(1, 3) if dunning else 0, failed_at, failed_at,
                     ts(NOW - datetime.timedelta(days=30)) if succeeded else None,
                     "invoice.paid" if succeeded else None, ts(NOW), ts(NOW)))
        if len(rows) == 50_000:
            copy_users(db, rows)
            rows = []
    if rows:
        copy_users(db, rows)
    # An end user in dunning has an open episode, as the service keeps them (its row counts
    # the episode's failures while it is open).
    db.execute(
        "INSERT INTO dunning_episodes (organization_id, end_user_id, started_at, "
        "last_failed_at, failures) "
        "SELECT organization_id, id, first_failed_at, last_failed_at, 1 FROM end_users AS u "
        f"WHERE organization_id = {a.org} AND needs_payment_update AND NOT EXISTS "
        "(SELECT 1 FROM dunning_episodes AS d "
        "WHERE d.end_user_id = u.id AND d.recovered_at IS NULL)")
    if db.kind == "postgres":
        # Measure settled tables, as a database in service has: statistics, the visibility
        # map and hint bits set (else the first reads of each bulk-loaded page write it back),
        # and the load's WAL checkpointed rather than flushed during the measurement.
        db.execute("VACUUM (ANALYZE) end_users, dunning_episodes")
        try:
            db.execute("CHECKPOINT")
        except subprocess.CalledProcessError:
            pass  # not a superuser: the server checkpoints on its own schedule


def copy_users(db, rows):
    db.copy("end_users", ["organization_id", "email", "stripe_customer_id",
                          "needs_payment_update", "payment_failures", "first_failed_at",
                          "last_failed_at", "last_success_at", "last_success_event",
                          "created_at", "updated_at"], rows)


def cmd_applications(a):
    """Applications waiting for a retry (as after Stripe failed the request's attempt),
    with their queue jobs in the database queue when --queue-db."""
    db = Db(a.db)
    tag = f"{int(time.time() * 1000):x}"
    rows = [(a.org, a.offer, i, f"sub_{i}", f"saveloops-apply-{a.offer}-bench{tag}x{i:08d}",
             "retrying", 1, "Stripe returned HTTP 503 (bench seed)", 49 * 10_000, ts(NOW),
             ts(NOW), ts(NOW)) for i in range(1, a.count + 1)]
    db.copy("offer_applications", ["organization_id", "offer_id", "end_user_id",
                                   "stripe_subscription_id", "idempotency_key", "status",
                                   "attempts", "last_error", "mrr_e4", "next_attempt_at",
                                   "created_at", "updated_at"], rows)
    ids = [int(r[0]) for r in db.query(
        f"SELECT id FROM offer_applications WHERE idempotency_key LIKE '%bench{tag}x%' ORDER BY id")]
    if a.queue_db:
        now_ms = int(time.time() * 1000)
        db.copy("queue_jobs", ["id", "kind", "payload", "state", "run_at", "due_at", "attempts",
                               "enqueued_at", "updated_at"],
                [(f"apply_offer:{i}", "apply_offer", json.dumps({"application_id": i}),
                  "scheduled", now_ms, now_ms, 0, now_ms, now_ms) for i in ids])
    print(f"{ids[0]} {ids[-1]}" if ids else "0 0")


def cmd_drain(a):
    """Applications in [first, last]: how many are applied, and the first and last applied
    time (unix seconds). With --wait, first polls (one process, a count a second, so
    that watching costs the machine little) until N are applied or the timeout passes."""
    db = Db(a.db)
    where = f"id BETWEEN {a.first} AND {a.last} AND status = 'applied'"
    deadline = time.time() + a.timeout
    while a.wait and time.time() < deadline:
        if int(db.query(f"SELECT COUNT(*) FROM offer_applications WHERE {where}")[0][0]) >= a.wait:
            break
        time.sleep(1)
    if db.kind == "postgres":
        row = db.query(f"SELECT COUNT(*), EXTRACT(EPOCH FROM MIN(applied_at)), "
                       f"EXTRACT(EPOCH FROM MAX(applied_at)) FROM offer_applications WHERE {where}")[0]
        count, first, last = int(row[0]), float(row[1] or 0), float(row[2] or 0)
    else:
        row = db.query(f"SELECT COUNT(*), MIN(applied_at), MAX(applied_at) FROM offer_applications WHERE {where}")[0]
        count = int(row[0])
        parse = lambda t: datetime.datetime.fromisoformat(t.replace(" ", "T")).timestamp() if t else 0.0
        first, last = parse(row[1]), parse(row[2])
    attempts = db.query(f"SELECT COUNT(*) FROM application_attempts WHERE application_id BETWEEN {a.first} AND {a.last}")[0][0]
    print(json.dumps({"applied": count, "first": first, "last": last, "attempts": int(attempts)}))


def b64url(raw):
    import base64
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def cmd_tokens(a):
    import hashlib
    import hmac
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": a.kid}).encode())
    exp = int(time.time()) + 7200
    for n in random.sample(range(1, a.users + 1), min(a.count, a.users)):
        claims = b64url(json.dumps({"exp": exp, "user_email": f"user{n}@bench.test"}).encode())
        signed = f"{header}.{claims}".encode()
        mac = hmac.new(a.secret.encode(), signed, hashlib.sha256).digest()
        print(f"{header}.{claims}.{b64url(mac)}")
def cmd_stripe_events(a):
    """Stripe's `invoice.payment_failed` events, signed as Stripe signs them (HMAC-SHA256 of
    "{t}.{body}" with the endpoint's secret), t = now: a run must start within Stripe's 300 s
    tolerance. A share (--redeliver) of the lines repeats an earlier event, as Stripe's retries
    do. Only failures, so that afterwards every failure must be counted exactly once on its
    end user (`stripe-check`)."""
    import hashlib
    import hmac
    t = int(time.time())
    rng = random.Random(a.count)
    sent = []
    with open(a.out, "w") as out:
        for n in range(a.count):
            if sent and rng.random() < a.redeliver:
                line = sent[rng.randrange(len(sent))]
            else:
                customer = f"cus_{a.prefix}_{rng.randrange(a.customers)}"
                body = json.dumps({
                    "id": f"evt_{a.prefix}_{n}", "object": "event", "api_version": "2024-06-20",
                    "created": t - a.count + n, "livemode": False, "pending_webhooks": 1,
                    "request": {"id": None, "idempotency_key": None},
                    "type": "invoice.payment_failed",
                    "data": {"object": {
                        "id": f"in_{a.prefix}_{n}", "object": "invoice", "customer": customer,
                        "customer_email": f"{customer}@bench.test", "status": "open",
                        "amount_due": 2900, "currency": "usd",
                        "subscription": f"sub_{customer}", "attempt_count": 1}},
                }, separators=(",", ":"))
                sig = hmac.new(a.secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
                line = f"t={t},v1={sig}\t{body}\n"
                sent.append(line)
            out.write(line)


def cmd_stripe_check(a):
    """After an event run: events stored, payment failures applied, and the failures the
    end users' rows count (equal when nothing was counted twice)."""
    db = Db(a.db)
    stored, applied = db.query(
        f"SELECT COUNT(*), COUNT(applied_at) FROM stripe_events WHERE organization_id = {a.org} "
        f"AND event_id LIKE 'evt_{a.prefix}_%'")[0]
    counted = db.query(
        f"SELECT COALESCE(SUM(payment_failures), 0) FROM end_users WHERE organization_id = {a.org} "
        f"AND stripe_customer_id LIKE 'cus_{a.prefix}_%'")[0][0]
    print(json.dumps({"stored": int(stored), "applied": int(applied), "counted": int(counted)}))


def resp(*parts):
    out = [f"*{len(parts)}\r\n"]
    for p in parts:
        p = str(p)
        out.append(f"${len(p.encode())}\r\n{p}\r\n")
    return "".join(out)


def cmd_redis_jobs(a):
    """The queue's own enqueue script (workers/src/lua/enqueue.lua) for each job, as RESP."""
    with open(a.script) as f:
        script = f.read()
    now_ms = int(time.time() * 1000)
    w = sys.stdout
    for i in range(a.first, a.last + 1):
        jid = f"apply_offer:{i}"
        w.write(resp("EVAL", script, 3, f"{a.prefix}job:{jid}", f"{a.prefix}scheduled",
                     f"{a.prefix}kinds", a.prefix, jid, "apply_offer",
                     json.dumps({"application_id": i}), now_ms, now_ms))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("offers")
    o.add_argument("--db", required=True)
    o.add_argument("--org", type=int, required=True)
    o.add_argument("--count", type=int, default=20)
    u = sub.add_parser("users")
    u.add_argument("--db", required=True)
    u.add_argument("--org", type=int, required=True)
    u.add_argument("--count", type=int, default=100_000)
    u.add_argument("--dunning", type=float, default=0.1)
    u.add_argument("--start", type=int, default=1, help="number of the first user")
    ap = sub.add_parser("applications")
    ap.add_argument("--db", required=True)
    ap.add_argument("--org", type=int, required=True)
    ap.add_argument("--offer", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--queue-db", action="store_true")
    t = sub.add_parser("tokens")
    t.add_argument("--kid", required=True)
    t.add_argument("--secret", required=True)
    t.add_argument("--users", type=int, required=True)
    t.add_argument("--count", type=int, default=2000)
    r = sub.add_parser("redis-jobs")
    r.add_argument("--from", dest="first", type=int, required=True)
    r.add_argument("--to", dest="last", type=int, required=True)
    r.add_argument("--prefix", required=True)
    r.add_argument("--script", default="workers/src/lua/enqueue.lua")
    d = sub.add_parser("drain")
    d.add_argument("--db", required=True)
    d.add_argument("--from", dest="first", type=int, required=True)
    d.add_argument("--to", dest="last", type=int, required=True)
    d.add_argument("--wait", type=int, default=0, help="poll until this many are applied")
    d.add_argument("--timeout", type=float, default=120)
    se = sub.add_parser("stripe-events")
    se.add_argument("--secret", required=True)
    se.add_argument("--count", type=int, required=True)
    se.add_argument("--customers", type=int, default=10_000)
    se.add_argument("--prefix", required=True)
    se.add_argument("--redeliver", type=float, default=0.1)
    se.add_argument("--out", required=True)
    sc = sub.add_parser("stripe-check")
    sc.add_argument("--db", required=True)
    sc.add_argument("--org", type=int, required=True)
    sc.add_argument("--prefix", required=True)
    a = p.parse_args()
    {"offers": cmd_offers, "users": cmd_users, "applications": cmd_applications,
     "redis-jobs": cmd_redis_jobs, "drain": cmd_drain, "tokens": cmd_tokens,
     "stripe-events": cmd_stripe_events, "stripe-check": cmd_stripe_check}[a.cmd](a)


if __name__ == "__main__":
    main()
