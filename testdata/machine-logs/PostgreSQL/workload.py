#!/usr/bin/env python3
"""The workload that produced PostgreSQL.log: psql and pgbench sessions against a PRIVATE
PostgreSQL 15 instance (scripts/pg-private.sh start /tmp/pglab 55439), never the machine's own
server.  Every SQL statement is sent on one line (no multi-line statements), so every line of the
server log carries the log_line_prefix.  Seeded, so reruns send the same statements (the log still
differs in timestamps, pids, ports, durations).

    python3 workload.py            # expects the instance to be running with the logging settings
"""
import os
import random
import subprocess
import sys
import threading
import time

PORT = "55439"
SOCK = "/tmp/pglab"  # pg-private.sh puts the socket in the data directory
PG = "/work/main/scripts/pg-private.sh"
rng = random.Random(13)


def psql(user, db, sql, host="127.0.0.1", app=None, check=False):
    env = dict(os.environ, PGOPTIONS="")
    env.pop("PGPASSWORD", None)
    if app:
        env["PGAPPNAME"] = app
    cmd = ["psql", "-X", "-q", "-h", host, "-p", PORT, "-U", user, "-d", db, "-v", "ON_ERROR_STOP=0"]
    r = subprocess.run(cmd, input=sql, text=True, capture_output=True, env=env)
    if check and r.returncode != 0:
        sys.exit(f"psql failed: {r.stderr}")
    return r


def pgbench(args, user, db):
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", PORT, "-U", user] + args + [db]
    r = subprocess.run(cmd, text=True, capture_output=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)


def pgctl(*args):
    subprocess.run(["bash", PG, *args], check=True)


NAMES = ["ada", "grace", "alan", "edsger", "barbara", "donald", "john", "ken", "dennis", "linus",
         "margaret", "frances", "leslie", "tony", "niklaus", "robin", "radia", "shafi", "silvio", "butler"]
PRODUCTS = ["widget", "gadget", "sprocket", "gizmo", "doohickey", "thingamajig", "whatsit", "contraption"]


def setup():
    psql("postgres", "postgres", "\n".join([
        "CREATE ROLE alice LOGIN;",
        "CREATE ROLE bob LOGIN;",
        "CREATE ROLE reporter LOGIN;",
        "CREATE DATABASE shop OWNER alice;",
        "CREATE DATABASE analytics OWNER bob;",
    ]) + "\n", check=True)
    psql("alice", "shop", "\n".join([
        "CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL, created_at timestamptz DEFAULT now());",
        "CREATE TABLE products (id serial PRIMARY KEY, sku text UNIQUE, name text NOT NULL, price numeric(10,2) CHECK (price > 0));",
        "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), product_id int NOT NULL REFERENCES products(id), qty int NOT NULL CHECK (qty > 0), created_at timestamptz DEFAULT now());",
        "CREATE INDEX orders_customer_idx ON orders (customer_id);",
        "CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2) NOT NULL DEFAULT 0);",
        "GRANT SELECT ON customers TO reporter;",
    ]) + "\n")


def shop_inserts():
    lines = []
    for i, n in enumerate(NAMES):
        lines.append(f"INSERT INTO customers (email, name) VALUES ('{n}@example.org', '{n.capitalize()}');")
    for i, p in enumerate(PRODUCTS):
        price = rng.choice([1.5, 2.25, 9.99, 14.0, 120.5, 3.75, 42.0, 0.99])
        lines.append(f"INSERT INTO products (sku, name, price) VALUES ('SKU-{1000 + i * 7}', '{p}', {price});")
    for i in range(1, 6):
        lines.append(f"INSERT INTO accounts (id, owner, balance) VALUES ({i}, '{NAMES[i]}', {rng.randint(100, 5000)}.00);")
    psql("alice", "shop", "\n".join(lines) + "\n", app="shop-loader")


def shop_orders(n):
    lines = ["BEGIN;"]
    for _ in range(n):
        lines.append(f"INSERT INTO orders (customer_id, product_id, qty) VALUES ({rng.randint(1, len(NAMES))}, {rng.randint(1, len(PRODUCTS))}, {rng.randint(1, 9)});")
    lines.append("COMMIT;")
    psql("alice", "shop", "\n".join(lines) + "\n", app="order-service")


def shop_queries(user="alice", host="127.0.0.1", app="psql"):
    q = []
    for _ in range(rng.randint(6, 12)):
        k = rng.randrange(8)
        if k == 0:
            q.append(f"SELECT id, name FROM customers WHERE email = '{rng.choice(NAMES)}@example.org';")
        elif k == 1:
            q.append(f"SELECT count(*) FROM orders WHERE customer_id = {rng.randint(1, 20)};")
        elif k == 2:
            q.append(f"SELECT p.name, sum(o.qty) FROM orders o JOIN products p ON p.id = o.product_id WHERE o.qty >= {rng.randint(1, 5)} GROUP BY p.name ORDER BY 2 DESC LIMIT {rng.randint(3, 5)};")
        elif k == 3:
            q.append(f"UPDATE products SET price = price * {rng.choice(['1.05', '0.95', '1.10'])} WHERE sku = 'SKU-{1000 + rng.randrange(8) * 7}';")
        elif k == 4:
            q.append(f"UPDATE accounts SET balance = balance - {rng.randint(1, 50)} WHERE id = {rng.randint(1, 5)};")
        elif k == 5:
            q.append(f"SELECT * FROM accounts WHERE balance > {rng.randint(100, 3000)} ORDER BY balance;")
        elif k == 6:
            q.append(f"DELETE FROM orders WHERE id = {rng.randint(1, 400)} AND qty = {rng.randint(1, 9)};")
        else:
            q.append(f"SELECT o.id, c.name, o.qty FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id BETWEEN {(a := rng.randint(1, 200))} AND {a + rng.randint(1, 10)};")
    psql(user, "shop", "\n".join(q) + "\n", host=host, app=app)


def shop_errors(round_no):
    """One round of failing statements; literals differ per round."""
    n = rng.choice(NAMES)
    sku = 1000 + rng.randrange(8) * 7
    miss = rng.choice(["custmers", "order", "prodcuts", "missing_table_2024", "customer"])
    e = [
        rng.choice(["SELEC id FROM customers;", "SELECT id FROM customers WHER id = 1;", "SELECT * FORM customers;"]),
        f"SELECT * FROM {miss} WHERE id = {rng.randint(1, 99)};",
        f"INSERT INTO customers (email, name) VALUES ('{n}@example.org', '{n.capitalize()} again');",
        f"INSERT INTO orders (customer_id, product_id, qty) VALUES ({rng.randint(500, 999)}, 1, 1);",
        f"INSERT INTO orders (customer_id, product_id, qty) VALUES (1, 2, {rng.choice([0, -1, -5])});",
        f"INSERT INTO customers (email) VALUES ('nobody{round_no}@example.org');",
        f"SELECT {rng.randint(1, 99)} / 0;",
        "SELECT sum(qty) / (count(*) - count(*)) FROM orders;",
        f"SELECT * FROM orders WHERE id = '{rng.choice(['abc', 'x1', 'ten'])}';",
        f"SELECT {rng.choice(['nonexistent_column', 'prize', 'qtty'])} FROM products;",
        f"SELECT {rng.choice(['no_such_function', 'lenght', 'sum_all'])}({rng.randint(1, 9)});",
        "COMMIT;",
        "ROLLBACK;",
        f"DO $$ BEGIN RAISE WARNING 'low stock for sku %', 'SKU-{sku}'; END $$;",
        f"DO $$ BEGIN RAISE EXCEPTION 'order % rejected: credit limit', {rng.randint(10, 500)}; END $$;",
        "SET statement_timeout = 100;",
        f"SELECT pg_sleep(0.{rng.randint(3, 6)});",
        "RESET statement_timeout;",
        f"INSERT INTO products (sku, name, price) VALUES ('SKU-{sku}', 'dup', 5);",
        f"INSERT INTO products (sku, name, price) VALUES ('SKU-{9000 + round_no}', 'freebie', -{rng.randint(1, 9)});",
        rng.choice(["CREATE TABLE customers (id int);", "CREATE TABLE orders (id int);"]),
        "BEGIN;",
        "SELECT 1/0;",
        "SELECT 1;",
        "ROLLBACK;",
        f"SELECT name FROM customers WHERE id = {rng.randint(1, 20)} AND email = ;",
        f"UPDATE products SET price = 'cheap' WHERE id = {rng.randint(1, 8)};",
        f"SELECT c.name FROM customers WHERE c.id = {rng.randint(1, 20)};",
    ]
    psql("alice", "shop", "\n".join(e) + "\n")


def admin_session():
    """A superuser session that logs with log_statement=all instead of durations."""
    psql("postgres", "shop", "\n".join([
        "SET log_min_duration_statement = -1;",
        "SET log_statement = 'all';",
        "SELECT datname, numbackends FROM pg_stat_database WHERE datname = 'shop';",
        f"SELECT pid, usename, state FROM pg_stat_activity WHERE usename = '{rng.choice(['alice', 'bob'])}';",
        "SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY n_live_tup DESC LIMIT 5;",
        "VACUUM (ANALYZE) orders;",
        "SELECT pg_size_pretty(pg_database_size('shop'));",
        "SELECT * FROM pg_nosuch_view;",
        "REINDEX TABLE customers;",
    ]) + "\n", app="admin")


def terminate_session():
    """A long query killed by pg_terminate_backend from another session."""
    def victim():
        psql("bob", "analytics", "SELECT pg_sleep(3);\n", app="stuck-report")

    t = threading.Thread(target=victim)
    t.start()
    time.sleep(0.7)
    psql("postgres", "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stuck-report';\n", app="admin")
    t.join()


def permission_errors():
    psql("bob", "shop", "SELECT * FROM customers LIMIT 1;\nUPDATE accounts SET balance = 0;\n")
    psql("reporter", "shop", "SELECT count(*) FROM customers;\nSELECT * FROM orders LIMIT 3;\nDELETE FROM customers WHERE id = 3;\n", app="report-job")


def failed_connections():
    psql("mallory", "shop", "SELECT 1;\n")
    psql("alice", "nosuchdb", "SELECT 1;\n")
    psql("eve", "postgres", "SELECT 1;\n", host=SOCK)


def analytics(create):
    if create:
        psql("bob", "analytics", "\n".join([
            "CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, user_id int, payload jsonb, at timestamptz NOT NULL DEFAULT now());",
            "INSERT INTO events (kind, user_id, payload, at) SELECT (ARRAY['view','click','buy','share'])[1 + g % 4], g % 97, jsonb_build_object('n', g), now() - g * interval '1 minute' FROM generate_series(1, 20000) g;",
            "CREATE INDEX events_kind_at_idx ON events (kind, at);",
            "ANALYZE events;",
        ]) + "\n", app="etl")
    for _ in range(6):
        k = rng.choice(["view", "click", "buy", "share"])
        psql("bob", "analytics", "\n".join([
            f"SELECT kind, count(*) FROM events WHERE at > now() - interval '{rng.randint(1, 48)} hours' GROUP BY kind;",
            f"SELECT user_id, count(*) AS n FROM events WHERE kind = '{k}' GROUP BY user_id ORDER BY n DESC LIMIT {rng.randint(3, 10)};",
            f"SELECT date_trunc('hour', at) AS h, count(*) FROM events WHERE user_id = {rng.randint(0, 96)} GROUP BY h ORDER BY h;",
        ]) + "\n", app="dashboard")


def temp_files():
    psql("bob", "analytics", "\n".join([
        "SET work_mem = '64kB';",
        "SELECT id, payload FROM events ORDER BY payload->>'n' DESC LIMIT 5;",
        "SELECT kind, user_id, count(*) FROM events GROUP BY kind, user_id ORDER BY 3 DESC LIMIT 3;",
        "SELECT count(DISTINCT (user_id, at)) FROM events;",
    ]) + "\n", app="etl")


def lock_waits():
    # session A holds a row lock for 1.5 s; B waits (logged after deadlock_timeout) and gets it;
    # C gives up on lock_timeout.
    def a():
        psql("alice", "shop", "BEGIN;\nUPDATE accounts SET balance = balance + 10 WHERE id = 1;\nSELECT pg_sleep(1.5);\nCOMMIT;\n", app="batch")

    def b():
        time.sleep(0.3)
        psql("alice", "shop", "UPDATE accounts SET balance = balance - 5 WHERE id = 1;\n", app="api")

    def c():
        time.sleep(0.4)
        psql("alice", "shop", "SET lock_timeout = '400ms';\nUPDATE accounts SET balance = balance - 7 WHERE id = 1;\n", app="api")

    ts = [threading.Thread(target=f) for f in (a, b, c)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def reload_settings():
    psql("postgres", "postgres", "ALTER SYSTEM SET work_mem = '8MB';\nSELECT pg_reload_conf();\n")
    time.sleep(0.5)
    psql("postgres", "postgres", "ALTER SYSTEM SET log_temp_files = '1kB';\nSELECT pg_reload_conf();\n")
    time.sleep(0.5)


def checkpoint():
    psql("postgres", "postgres", "CHECKPOINT;\n")


def bench():
    pgbench(["-i", "-s", "1", "-q"], "bob", "analytics")
    pgbench(["-S", "-M", "prepared", "-t", "25", "-c", "2"], "bob", "analytics")
    pgbench(["-M", "extended", "-t", "5", "-c", "1", "-n"], "bob", "analytics")


def main():
    setup()
    shop_inserts()
    for _ in range(4):
        shop_orders(rng.randint(15, 30))
    for i in range(10):
        shop_queries(host=SOCK if i % 3 == 0 else "127.0.0.1")
    shop_errors(1)
    permission_errors()
    failed_connections()
    checkpoint()
    analytics(True)
    temp_files()
    lock_waits()
    reload_settings()
    for _ in range(8):
        shop_queries(app="order-service")
    shop_errors(2)
    admin_session()
    terminate_session()
    analytics(False)
    bench()
    checkpoint()
    pgctl("restart", SOCK, PORT)
    for _ in range(3):
        shop_queries(user="alice")
    shop_orders(10)
    failed_connections()
    pgctl("crash", SOCK)
    pgctl("start", SOCK, PORT)
    for i in range(8):
        shop_queries(host=SOCK if i % 2 else "127.0.0.1")
    shop_errors(3)
    lock_waits()
    permission_errors()
    admin_session()
    checkpoint()


if __name__ == "__main__":
    main()
