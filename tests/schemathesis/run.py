"""Property-based tests of the API from its own OpenAPI document, with schemathesis.

Starts the real server (target/debug/rapport) on a fresh SQLite file or a fresh PostgreSQL
database, signs in an admin, creates one user of each main role and an integration client
granted one scope, and runs schemathesis as each of them (on PostgreSQL, as the admin only).
Every run checks that no answer is a 5xx, breaks its schema or has an undocumented status,
content type or header; the admin's run also follows the document's links (create, then get,
patch, delete the created record). The checks and their settings are in schemathesis.toml.

    python tests/schemathesis/run.py --backend sqlite --st target/schemathesis/venv/bin/st

Fails (exit 1) on any finding; the reports are in target/schemathesis/<backend>/.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "schemathesis-password-1"

# Signing in and changing one's password are left out: generated credentials only meet the
# login limits, and a changed password would end the run's own session.
EXCLUDED_PATHS = r"^/v1/(auth/|me/password)"

# Who runs, and with what: the roles see which operations refuse them (403) and which records
# they cannot see (404); the admin covers every operation and follows the links. The admin
# runs last: it may disable, demote or reset the other roles' users.
RUNS = [
    ("sales_manager", "coverage"),
    ("sales_rep", "coverage"),
    ("service_agent", "coverage"),
    ("auditor", "coverage"),
    ("client", "coverage"),
    ("admin", "examples,coverage,fuzzing,stateful"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path}: {error.code} {error.read().decode()}")


def sign_in(base, form):
    return call(base, "POST", "/v1/auth/token", form)["access_token"]


def tokens(base):
    """A token per run: the admin's, one per role, and a client's granted one scope."""
    admin = sign_in(base, {"grant_type": "password", "username": "admin@example.com", "password": PASSWORD})
    team = call(base, "POST", "/v1/teams", {"name": "Schemathesis"}, admin)["id"]
    found = {"admin": admin}
    for role, _ in RUNS:
        if role in ("admin", "client"):
            continue
        email = f"{role}@example.com"
        body = {"email": email, "name": role, "role": role, "team_id": team, "password": PASSWORD}
        call(base, "POST", "/v1/users", body, admin)
        found[role] = sign_in(base, {"grant_type": "password", "username": email, "password": PASSWORD})
    client = call(base, "POST", "/v1/clients", {"name": "Schemathesis", "scopes": ["customers:read"]}, admin)
    found["client"] = sign_in(
        base,
        {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    return found


def start_server(backend, data_dir, port):
    env = dict(
        os.environ,
        RAPPORT_DATA_DIR=data_dir,
        RAPPORT_BIND=f"127.0.0.1:{port}",
        RAPPORT_LOG="warn",
        RAPPORT_ADMIN_EMAIL="admin@example.com",
        RAPPORT_ADMIN_PASSWORD=PASSWORD,
        RAPPORT_ACCESS_TOKEN_TTL="7200",
        # Schemathesis sends thousands of requests a minute from one address.
        RAPPORT_RATE_LIMITS="ip=1000000,default=1000000",
    )
    database = None
    if backend == "postgres":
        admin_url = os.environ.get("RAPPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        database = f"rapport_schemathesis_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {database}"], check=True)
        env["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + database
    log = open(os.path.join(data_dir, "server.log"), "w")
    server = subprocess.Popen(
        [os.path.join(ROOT, "target/debug/rapport"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/health/ready", timeout=1)
            return server, base, database
        except OSError:
            if server.poll() is not None:
                sys.exit(f"the server exited: see {data_dir}/server.log")
            time.sleep(0.2)
    sys.exit(f"the server did not get ready: see {data_dir}/server.log")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--st", required=True, help="the schemathesis command")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--role", action="append", help="run only as this role (repeatable)")
    args = parser.parse_args()
    st = os.path.abspath(args.st)

    out = os.path.join(ROOT, "target/schemathesis", args.backend)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    server, base, database = start_server(args.backend, out, free_port())
    failed = []
    try:
        by_role = tokens(base)
        # The roles' runs check refusals (403, 404), which the same code answers on both
        # databases: on PostgreSQL only the admin runs, whose requests reach every query.
        runs = RUNS if args.backend == "sqlite" else [run for run in RUNS if run[0] == "admin"]
        if args.role:
            runs = [run for run in runs if run[0] in args.role]
        for role, phases in runs:
            print(f"-- schemathesis as {role} ({phases}) on {args.backend}", flush=True)
            command = [
                st, "--config-file", os.path.join(ROOT, "tests/schemathesis/schemathesis.toml"),
                "run", os.path.join(ROOT, "openapi/openapi.json"),
                "--url", base,
                "--phases", phases,
                "--exclude-path-regex", EXCLUDED_PATHS,
                "--max-examples", str(args.max_examples),
                "--seed", str(args.seed),
                "--generation-database", "none",
                "--workers", "2",
                "--no-color",
                "--report", "junit",
                "--report-dir", os.path.join(out, role),
            ]
            # In the output folder: schemathesis keeps what it learns in `.schemathesis/`,
            # and each run starts from nothing.
            env = dict(os.environ, RAPPORT_SCHEMATHESIS_TOKEN=by_role[role])
            if subprocess.run(command, cwd=out, env=env).returncode != 0:
                failed.append(role)
    finally:
        server.terminate()
        server.wait()
        if database:
            admin_url = os.environ.get("RAPPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
            subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])
    if failed:
        sys.exit(f"schemathesis found problems as: {', '.join(failed)} (reports in {out})")
    print(f"schemathesis: no findings on {args.backend}")


if __name__ == "__main__":
    main()
