#!/usr/bin/env python3
"""The analytics benchmark's helpers (driven by `bench/analytics`).

    analytics.py seed    --db DB --org ID --scale S --end YYYY-MM-DD [--days 30]
        An organization's history written straight into the database: 1,000,000 × S
        impressions, 100,000 × S outcomes, 20,000 × S cancellation reasons over the `--days`
        UTC days before `--end`, 10 offers and one running experiment (its impressions,
        assignments and credited outcomes among them). The write triggers are off while it
        runs (SQLite: dropped and put back; PostgreSQL: session_replication_role = replica),
        so `saveloops analytics rebuild` builds the rollups afterwards. Prints the
        experiment's id.
    analytics.py measure --url URL --key KEY --path PATH [--calls 20 --warmup 2]
        Times GET PATH; prints JSON {p50_ms, p99_ms, max_ms} (p99 of 20 calls is the slowest).

DB is `sqlite:PATH` or `postgres:CONNINFO`, as for seed.py.
"""
import argparse
import datetime
import io
import json
import math
import random
import subprocess
import sys
import time
import urllib.request

from seed import Db, offer_rows, pg_text

TARGETS = ["cancel-btn", "pricing", "settings", "exp-target"]
TRIGGERS = ["click", "exit_intent", "hover", None]
ACTIONS = ["discount", "pause", "downgrade", "support", "contact", "none"]
CATEGORIES = ["price", "competitor", "bug", "seasonal", "missing_feature", "other"]
LANGUAGES = ["en", "de", "fr", "es"]
CHUNK = 200_000


def stamp(dt):
    # sqlx's text form of a DateTime<Utc> on SQLite (RFC 3339, micro- or no fraction).
    return dt.isoformat()


def copy_chunks(db, table, columns, rows):
    """Writes `rows` (a generator) in chunks, with the write triggers off."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            copy_quiet(db, table, columns, chunk)
            chunk = []
    if chunk:
        copy_quiet(db, table, columns, chunk)


def copy_quiet(db, table, columns, rows):
    if db.kind == "sqlite":
        marks = ",".join("?" for _ in columns)
        with db.conn:
            db.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})",
                                rows)
        return
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(pg_text(v) for v in row))
        buf.write("\n")
    sql = f"COPY {table} ({','.join(columns)}) FROM STDIN"
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", db.target,
                    "-c", "SET session_replication_role = replica", "-c", sql],
                   input=buf.getvalue(), text=True, check=True)


def cmd_seed(a):
    db = Db(a.db)
    rnd = random.Random(a.org)
    end = datetime.datetime.fromisoformat(a.end).replace(tzinfo=datetime.timezone.utc)
    start = end - datetime.timedelta(days=a.days)
    span = (end - start).total_seconds()
    saved_triggers = []
    if db.kind == "sqlite":
        saved_triggers = db.query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                  "AND name LIKE 'analytics_%'")
        for name, _ in saved_triggers:
            db.execute(f"DROP TRIGGER {name}")
    now = stamp(datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0))
    db.copy("offers", ["organization_id", "type", "value", "label", "config", "target_id",
                       "triggers", "min_mrr_e4", "max_mrr_e4", "priority", "active",
                       "created_at", "updated_at"], offer_rows(db, a.org, 10))
    offers = [int(r[0]) for r in
              db.query(f"SELECT id FROM offers WHERE organization_id = {a.org} ORDER BY id")]
    arms = [{"name": "control", "offer_ids": [offers[0]], "weight": 1, "control": True},
            {"name": "b", "offer_ids": [offers[1]], "weight": 1, "control": False}]
    db.copy("experiments", ["organization_id", "name", "target_id", "status", "arms",
                            "confidence", "min_sample_size", "started_at", "created_at",
                            "updated_at"],
            [(a.org, "Bench", "exp-target", "running", json.dumps(arms), 0.95, 1000,
              stamp(start), stamp(start), now)])
    experiment = int(db.query(f"SELECT MAX(id) FROM experiments "
                              f"WHERE organization_id = {a.org}")[0][0])
    users = int(50_000 * a.scale) or 1
    base_user = 10_000_000 * a.org

    def at():
        return stamp(start + datetime.timedelta(seconds=int(rnd.random() * span)))

    def impressions():
        for _ in range(int(1_000_000 * a.scale)):
            target = rnd.choice(TARGETS)
            user = base_user + rnd.randint(1, users) if rnd.random() < 0.8 else None
            arm = None
            if target == "exp-target":
                arm = rnd.choice(arms)
                shown = arm["offer_ids"]
            else:
                shown = rnd.sample(offers[2:], rnd.randint(1, 3))
            yield (a.org, user, target, rnd.choice(TRIGGERS), rnd.randint(1, 500) * 10_000,
                   json.dumps(shown), experiment if arm else None,
                   arm["name"] if arm else None, at())

    copy_chunks(db, "impressions", ["organization_id", "end_user_id", "target_id", "trigger",
                                    "mrr_e4", "offer_ids", "experiment_id", "experiment_arm",
                                    "created_at"], impressions())

    def outcomes():
        for _ in range(int(100_000 * a.scale)):
            offer = rnd.choice(offers)
            user = base_user + rnd.randint(1, users) if rnd.random() < 0.9 else None
            in_arm = offer in (offers[0], offers[1])
            yield (a.org, offer, user, "saved" if rnd.random() < 0.6 else "abandoned",
                   rnd.randint(1, 500) * 10_000, "outcome", experiment if in_arm else None,
                   ("control" if offer == offers[0] else "b") if in_arm else None,
                   rnd.choice(TARGETS), rnd.choice(TRIGGERS), at())

    copy_chunks(db, "outcomes", ["organization_id", "offer_id", "end_user_id", "status",
                                 "mrr_e4", "source", "experiment_id", "experiment_arm",
                                 "attributed_target_id", "attributed_trigger", "created_at"],
                outcomes())

    def reasons():
        for _ in range(int(20_000 * a.scale)):
            user = base_user + rnd.randint(1, users) if rnd.random() < 0.8 else None
            yield (a.org, user, rnd.choice(TARGETS), "a reason", rnd.choice(ACTIONS),
                   rnd.choice(CATEGORIES), rnd.choice(LANGUAGES), round(rnd.random(), 3),
                   round(rnd.uniform(-1, 1), 3), at())

    copy_chunks(db, "cancellation_reasons", ["organization_id", "end_user_id", "target_id",
                                             "reason", "suggested_action", "category",
                                             "language", "confidence", "sentiment",
                                             "created_at"], reasons())

    def assignments():
        for i in range(1, int(20_000 * a.scale) + 1):
            yield (a.org, experiment, base_user + i, rnd.choice(["control", "b"]), at())

    copy_chunks(db, "experiment_assignments", ["organization_id", "experiment_id",
                                               "end_user_id", "arm", "created_at"],
                assignments())
    for _, sql in saved_triggers:
        db.execute(sql)
    if db.kind == "postgres":
        db.execute("ANALYZE")
    print(experiment)


def cmd_measure(a):
    def call():
        req = urllib.request.Request(a.url + a.path, headers={"X-Knot-Key": a.key})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()
            if r.status != 200:
                sys.exit(f"{a.path}: {r.status}")
        return (time.perf_counter() - started) * 1000

    for _ in range(a.warmup):
        call()
    times = sorted(call() for _ in range(a.calls))
    rank = lambda q: times[max(0, math.ceil(q * len(times)) - 1)]
    print(json.dumps({"p50_ms": round(rank(0.5), 1), "p99_ms": round(rank(0.99), 1),
                      "max_ms": round(times[-1], 1), "calls": a.calls}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db", required=True)
    s.add_argument("--org", type=int, required=True)
    s.add_argument("--scale", type=float, default=1)
    s.add_argument("--end", required=True)
    s.add_argument("--days", type=int, default=30)
    m = sub.add_parser("measure")
    m.add_argument("--url", required=True)
    m.add_argument("--key", required=True)
    m.add_argument("--path", required=True)
    m.add_argument("--calls", type=int, default=20)
    m.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    {"seed": cmd_seed, "measure": cmd_measure}[a.cmd](a)


if __name__ == "__main__":
    main()
