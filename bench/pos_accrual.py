#!/usr/bin/env python
"""POS accrual benchmark: purchases through the full HTTP API versus the raw
PostgreSQL ceiling for the same work.

    .venv/bin/python bench/pos_accrual.py [--cards 1000] [--servers sync:3,gthread:2x4] [--requests 4000]
        [--venv DIR]   (the web server's virtualenv: another Python build, README "Production")

What it does, all on 127.0.0.1:

1. Drops and recreates the database ``loyalty_bench`` (``--db``), migrates it,
   and creates a merchant, a location, an API key and ``--cards`` cards
   through the product's own services (bench/setup_data.py).
2. Copies it to ``loyalty_bench_raw`` and runs pgbench there with a custom
   script doing the core of a purchase by hand: lock the card row, insert the
   purchase, insert the ledger entry, update the balance, commit. That is the
   ceiling: what PostgreSQL itself does per second with no application, and
   its latency percentiles (pgbench -l), the machine's own tail.
3. Starts the web server (DEBUG=0, production settings, Redis cache db 3) in
   each configuration of ``--servers`` (granian's WSGI workers, gunicorn's
   sync or gthread workers), measures 32 clients briefly and keeps the one
   that spends the least CPU per purchase; then drives
   ``POST /api/pos/v1/purchases/`` at 1, 8 and 32 concurrent keep-alive
   clients (each bounded by ``--requests`` and ``--seconds``) and prints
   throughput and p50/p99 latency, and the ratio to pgbench at the same
   client count. (On two cores pgbench's 32 backends may do less than 8
   do; the summary then also gives the ratio to pgbench's best figure.)
4. Counts the CPU time each side spends per transaction (from /proc): on a
   shared machine that, not the wall clock, says what the code costs.
5. Gives every card an Apple Wallet pass registered on a device (the
   production case: bench/setup_apple_passes.py) and measures again at 1, 8
   and 32 clients, so each purchase also marks its card's pass (and queues
   the debounced sync when it starts a burst; no worker consumes the queue
   here).
6. Stops the server and runs ``manage.py verify_ledger`` on the bench database.

Before and after, it times a fixed pure-Python loop on the server's Python (the
calibration): on a shared host the same code costs more CPU when the host is
slower or busier, so runs compare only where their calibrations agree.

Each request has a fresh Idempotency-Key and receipt id, a random card of the
bench merchant and a random bill; they only accrue (no redemption).

The load generator is a small asyncio HTTP/1.1 client (no third-party client
library: httpx costs more CPU per request than the server we measure, and
this machine has two cores shared by the client, gunicorn and PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python")
# The virtualenv whose Python serves the requests (--venv); the setup and the checks use .venv.
SERVER_VENV = BASE_DIR / ".venv"
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
PURCHASE_PATH = "/api/pos/v1/purchases/"
CLIENT_COUNTS = (1, 8, 32)

PGBENCH_SCRIPT = """\
\\set card random(:card_min, :card_max)
\\set cents random(10000, 300000)
BEGIN;
SELECT balance FROM loyalty_card WHERE id = :card FOR UPDATE;
INSERT INTO loyalty_purchase (merchant_id, card_id, location_id, receipt_id, currency, bill_amount,
    discount_percent, discount_amount, points_redeemed, points_amount, amount_paid, points_earned,
    stamps_earned, rewards_redeemed, refunded_amount, points_reversed, points_restored,
    program_version_id, idempotency_key, api_key_id, created_at)
  VALUES (:merchant, :card, :location, gen_random_uuid()::text, 'RUB', :cents / 100.0,
    0, 0, 0, 0, :cents / 100.0, :cents / 2000, 0, 0, 0, 0, 0,
    :version, gen_random_uuid()::text, :api_key, now())
  RETURNING id AS purchase_id \\gset
INSERT INTO loyalty_ledgerentry (merchant_id, card_id, kind, points, stamps, rewards, purchase_id,
    api_key_id, program_version_id, idempotency_key, reason, created_at)
  VALUES (:merchant, :card, 'earn', :cents / 2000, 0, 0, :purchase_id,
    :api_key, :version, gen_random_uuid()::text, '', now());
UPDATE loyalty_card SET balance = balance + :cents / 2000, updated_at = now() WHERE id = :card;
END;
"""


def log(message: str) -> None:
    print(message, flush=True)


def database_url(name: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        ["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", database, "-v", "ON_ERROR_STOP=1",
         "-qAtc", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout.strip()


def recreate_database(name: str, template: str | None = None) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


REDIS_DB = 3  # --redis-db


def app_env(db: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(db),
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex + uuid.uuid4().hex,
            # A valid Fernet key that is not the public default.
            "SECRETS_ENCRYPTION_KEY": "YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZjA=",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CACHE_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "POS_API_THROTTLE_RATE": "100000000/min",
            "DB_CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
            # As in production behind the TLS-terminating proxy: the request says it came over HTTPS.
            "BEHIND_HTTPS_PROXY": "1",
        }
    )
    env.update(extra)
    return env


# --- the machine's speed ---------------------------------------------------------
#
# The same code costs more CPU on a slower or busier host (a shared core's hiccups count as the process's
# own CPU time inside the guest), so each run says how fast a fixed piece of pure Python runs on the server's
# interpreter, before and after: figures from runs whose calibration differs are not comparable.

CALIBRATION = """\
import time
times = []
for _ in range(7):
    started = time.process_time()
    sum(i * i for i in range(200000))
    times.append(time.process_time() - started)
print(f"{min(times) * 1000:.2f}")
"""


def calibration_ms() -> float:
    """CPU milliseconds (best of 7) a fixed pure-Python loop takes on the web server's Python."""
    out = subprocess.run(
        [str(SERVER_VENV / "bin" / "python"), "-c", CALIBRATION], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip())


# --- CPU accounting ------------------------------------------------------------
#
# Other work on a shared machine slows every figure down, so the bench also
# counts the CPU time each side spends per transaction (from /proc): that is
# what would bound throughput on dedicated cores.

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used so far) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds used by the processes ``match(pid, ppid, cmdline)`` selects,
    sampled every 0.1 s so that processes which exit meanwhile (pgbench's
    backends) still count up to their last sample. The processes it follows are
    re-read every sample; the whole of /proc only every second, for new ones
    (the meter runs in the load generator's process, on the cores it measures,
    and scanning /proc ten times a second cost more than the load itself)."""

    def __init__(self, match) -> None:
        self.match = match
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _scan(self, into_start: bool = False) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid in self.last:
                continue
            stat = proc_stat(pid)
            if stat is None or not self.match(pid, stat[0], cmdline(pid)):
                continue
            if into_start:
                self.start[pid] = stat[1]
            self.last[pid] = stat[1]

    def _sample(self) -> None:
        for pid in list(self.last):
            stat = proc_stat(pid)
            if stat is not None:
                self.last[pid] = stat[1]

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(0.1):
            ticks += 1
            self._sample()
            if ticks % 10 == 0:
                self._scan()

    def __enter__(self) -> CpuMeter:
        self._scan(into_start=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self._scan()

    @property
    def seconds(self) -> float:
        return sum(value - self.start.get(pid, 0.0) for pid, value in self.last.items())


def postgres_backends_of(db: str):
    return lambda pid, ppid, line: line.startswith("postgres: ") and f" {db} " in line


def children_of(parent: int):
    return lambda pid, ppid, line: ppid == parent


# --- pgbench -----------------------------------------------------------------


def run_pgbench(db: str, data: dict, clients: int, seconds: int, script_path: str) -> Ceiling:
    command = [
        "pgbench", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-n", "-M", "prepared",
        "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), "-f", script_path,
        "-D", f"card_min={data['card_id_min']}", "-D", f"card_max={data['card_id_max']}",
        "-D", f"merchant={data['merchant_id']}", "-D", f"location={data['location_id']}",
        "-D", f"version={data['program_version_id']}", "-D", f"api_key={data['api_key_id']}",
        db,
    ]  # fmt: skip
    # Every transaction's latency in a log of its own (pgbench -l), for its percentiles: the tail PostgreSQL
    # itself has on this machine at the same client count, beside the API's.
    log_dir = tempfile.mkdtemp(prefix="pgbench-log-")
    command[-1:-1] = ["-l", "--log-prefix", os.path.join(log_dir, "tx")]
    client_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        with CpuMeter(postgres_backends_of(db)) as server_cpu:
            result = subprocess.run(command, check=True, capture_output=True, text=True)
        client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Each line: client, transaction, latency in microseconds, ...
        latencies = sorted(
            int(line.split()[2]) / 1e6 for log in Path(log_dir).iterdir() for line in log.read_text().splitlines()
        )
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if not match:
        raise RuntimeError(f"pgbench output not understood:\n{result.stdout}\n{result.stderr}")
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench had failed transactions:\n{result.stdout}")
    done = int(re.search(r"number of transactions actually processed: (\d+)", result.stdout).group(1))
    pgbench_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_cpu.ru_utime + client_cpu.ru_stime)
    return Ceiling(
        float(match.group(1)),
        server_cpu.seconds * 1000 / done,
        pgbench_cpu * 1000 / done,
        percentile(latencies, 50),
        percentile(latencies, 99),
    )


@dataclass
class Ceiling:
    tps: float
    postgres_cpu_ms: float  # per transaction
    client_cpu_ms: float
    p50_ms: float  # pgbench's latency per transaction
    p99_ms: float


def percentile(ordered: list[float], p: float) -> float:
    """The p-th percentile in milliseconds of latencies in seconds, sorted."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


# --- the web server (granian or gunicorn) ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, db: str, config: str) -> None:
        # "sync:3" = 3 sync workers; "gthread:2x4" = 2 workers of 4 threads (these keep connections alive);
        # "granian:2x1" = granian's WSGI interface (Rust HTTP), 2 workers of 1 blocking thread.
        worker_class, _sep, shape = config.partition(":")
        workers, _x, threads = shape.partition("x")
        self.port = free_port()
        self.workers = workers
        if worker_class == "granian":
            command = [
                str(SERVER_VENV / "bin" / "granian"), "--interface", "wsgi",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", workers, "--blocking-threads", threads or "1", "--backlog", "512",
                "--log-level", "warning", "--no-ws", "config.wsgi:application",
            ]  # fmt: skip
        else:
            command = [
                str(SERVER_VENV / "bin" / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", workers, "--worker-class", worker_class, "--backlog", "512", "--log-level", "warning",
            ]  # fmt: skip
            if worker_class == "gthread":
                command += ["--threads", threads or "4"]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=app_env(db), start_new_session=True)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited at start-up")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            # A graceful stop (gunicorn's and granian's); the workers are the server's children.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# --- load generator ----------------------------------------------------------


@dataclass
class Result:
    clients: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    sample_error: str = ""
    app_cpu_ms: float = 0.0  # per successful purchase: the server's workers
    postgres_cpu_ms: float = 0.0  # its PostgreSQL backends
    client_cpu_ms: float = 0.0  # this load generator

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        return percentile(sorted(self.latencies), p)


def purchase_request(port: int, secret: str, card_number: str) -> bytes:
    cents = random.randint(10000, 300000)
    receipt = uuid.uuid4().hex
    body = json.dumps(
        {"card_number": card_number, "bill_amount": f"{cents // 100}.{cents % 100:02d}", "receipt_id": receipt}
    ).encode()
    head = (
        f"POST {PURCHASE_PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "X-Forwarded-Proto: https\r\n"
        "X-Forwarded-For: 10.0.0.7\r\n"
        f"Authorization: Bearer {secret}\r\n"
        f"Idempotency-Key: bench-{receipt}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise ConnectionError("connection closed") from exc
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    close = lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _sep, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    body = await reader.readexactly(length) if length else b""
    return status, close, body


async def drive(port: int, secret: str, cards: list[str], clients: int, total: int, seconds: float) -> Result:
    result = Result(clients)
    # Built before the clock starts, as pgbench draws its random numbers in C: this load generator shares
    # the two cores with the server it measures, so it should spend as little as it can per request.
    requests = [purchase_request(port, secret, random.choice(cards)) for _ in range(total)]
    counter = itertools.count()
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        reader = writer = None
        while (n := next(counter)) < total and time.perf_counter() < deadline:
            request = requests[n]
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                status, close, body = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                result.statuses[0] = result.statuses.get(0, 0) + 1
                result.sample_error = result.sample_error or repr(exc)
                writer = None
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if not 200 <= status < 300 and not result.sample_error:
                result.sample_error = f"{status} {body[:300]!r}"
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    result.elapsed = time.perf_counter() - started
    return result


def load(port: int, secret: str, cards: list[str], clients: int, total: int, seconds: float) -> Result:
    return asyncio.run(drive(port, secret, cards, clients, total, seconds))


def measured_load(server: Server, db: str, secret: str, cards: list[str], clients: int, total: int, seconds: float):
    client_before = time.process_time()
    with CpuMeter(children_of(server.process.pid)) as app, CpuMeter(postgres_backends_of(db)) as database:
        result = load(server.port, secret, cards, clients, total, seconds)
    if result.ok:
        result.app_cpu_ms = app.seconds * 1000 / result.ok
        result.postgres_cpu_ms = database.seconds * 1000 / result.ok
        result.client_cpu_ms = (time.process_time() - client_before) * 1000 / result.ok
    return result


def describe(result: Result) -> str:
    errors = {status: count for status, count in result.statuses.items() if not 200 <= status < 300}
    text = (
        f"{result.clients:>3} clients: {result.ok:>6} purchases in {result.elapsed:5.1f} s = "
        f"{result.throughput:7.1f}/s, p50 {result.percentile(50):6.1f} ms, p99 {result.percentile(99):6.1f} ms"
    )
    if result.app_cpu_ms:
        text += (
            f"; CPU/purchase: app {result.app_cpu_ms:.2f} ms, PostgreSQL {result.postgres_cpu_ms:.2f} ms, "
            f"this load generator {result.client_cpu_ms:.2f} ms"
        )
    if errors:
        text += f", ERRORS {errors} e.g. {result.sample_error}"
    return text


# --- main ----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="loyalty_bench")
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument(
        "--servers",
        default="granian:2x2,granian:2x1,granian:3x1,gthread:2x4",
        help="server configurations to try (granian|sync|gthread:workers[xthreads]); the one spending the least "
        "CPU per purchase at 32 clients is used",
    )
    parser.add_argument("--requests", type=int, default=4000, help="purchases per client count, at most")
    parser.add_argument("--seconds", type=float, default=15, help="seconds per client count, at most")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--history", type=int, default=10000, help="purchases made before anything is measured")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the bench database as it is")
    parser.add_argument("--redis-db", type=int, default=3, help="Redis database for the cache and the broker")
    parser.add_argument(
        "--venv",
        type=Path,
        default=BASE_DIR / ".venv",
        help="the virtualenv whose Python runs the web server (with requirements.txt installed), for example one "
        "made from an optimized CPython build as production runs (README, production)",
    )
    args = parser.parse_args()
    global REDIS_DB, SERVER_VENV
    REDIS_DB = args.redis_db
    SERVER_VENV = args.venv.resolve()
    configs = [item.strip() for item in args.servers.split(",") if item.strip()]
    raw_db = f"{args.db}_raw"
    data_file = BASE_DIR / "var" / f"{args.db}.json"

    # Other work on this machine skews every figure: say how busy it was.
    one, five, fifteen = os.getloadavg()
    log(f"load average before: {one:.2f} {five:.2f} {fifteen:.2f} (on {os.cpu_count()} CPUs)")
    server_python = SERVER_VENV / "bin" / "python"
    version = subprocess.run(
        [str(server_python), "-c", "import sys; print(sys.version.replace(chr(10), ' '))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    log(f"the web server's Python: {server_python} ({version})")
    calibration_before = calibration_ms()
    log(f"calibration: a fixed Python loop takes {calibration_before:.2f} ms of CPU on it (best of 7)")
    if args.skip_setup and data_file.exists():
        data = json.loads(data_file.read_text())
    else:
        log(f"Creating database {args.db} and {args.cards} cards …")
        recreate_database(args.db)
        env = app_env(args.db)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
        output = subprocess.run(
            [PYTHON, "bench/setup_data.py", str(args.cards)], cwd=BASE_DIR, env=env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        data = json.loads(output.strip().splitlines()[-1])
        data_file.parent.mkdir(exist_ok=True)
        data_file.write_text(json.dumps(data))
        # As a database in service is: with a history, vacuumed and analysed. On empty tables PostgreSQL
        # plans the foreign-key checks of a connection (and its prepared statements) as scans of tiny
        # tables, which then grow under the measurement; and autovacuum would otherwise run in the middle
        # of one, its CPU counted as the bench database's.
        log(f"A history of {args.history} purchases through the API …")
        server = Server(args.db, configs[0])
        try:
            server.wait_ready()
            history = load(server.port, data["secret"], data["card_numbers"], 8, args.history, 300)
        finally:
            server.stop()
        if history.ok != args.history:
            raise RuntimeError(f"the history failed: {describe(history)}")
        psql("VACUUM ANALYZE", database=args.db)
    cards = data["card_numbers"]

    # 1. The raw ceiling, on a copy so that its hand-made rows stay out of the ledger we verify.
    log("pgbench: lock card, insert purchase, insert ledger entry, update balance, commit")
    recreate_database(raw_db, template=args.db)
    # Copying and dropping a database make PostgreSQL checkpoint and then log whole pages again; each side
    # starts after a checkpoint of its own, so that neither pays for the other's set-up.
    psql("CHECKPOINT")
    ceiling: dict[int, Ceiling] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    try:
        for clients in CLIENT_COUNTS:
            ceiling[clients] = run_pgbench(raw_db, data, clients, args.pgbench_seconds, script.name)
            c = ceiling[clients]
            log(
                f"{clients:>5} clients: {c.tps:8.1f} tps, p50 {c.p50_ms:6.1f} ms, p99 {c.p99_ms:6.1f} ms; "
                f"CPU/transaction: PostgreSQL {c.postgres_cpu_ms:.2f} ms, pgbench {c.client_cpu_ms:.2f} ms"
            )
    finally:
        os.unlink(script.name)
        psql(f'DROP DATABASE IF EXISTS "{raw_db}" WITH (FORCE)')
        psql("CHECKPOINT")

    # 2. Pick the server configuration.
    best_config = configs[0]
    if len(configs) > 1:
        log(f"Choosing the server configuration (least CPU per purchase): 32 clients, {args.requests} purchases each:")
        best = -1.0
        for config in configs:
            server = Server(args.db, config)
            try:
                server.wait_ready()
                load(server.port, data["secret"], cards, 8, 300, 10)  # warm up every worker
                result = measured_load(server, args.db, data["secret"], cards, 32, args.requests, args.seconds)
            finally:
                server.stop()
            log(f"  {config:>12}: " + describe(result))
            # Chosen by CPU per purchase (app + PostgreSQL): on a shared machine throughput mostly
            # measures the neighbours, the CPU one purchase costs does not.
            score = 1000 / (result.app_cpu_ms + result.postgres_cpu_ms) if result.ok else 0.0
            if score > best:
                best, best_config = score, config

    # 3. The API at 1, 8 and 32 clients: cards without a wallet pass, then (4.) every card with an Apple pass.
    runs: dict[str, dict[int, Result]] = {}
    for run in ("no wallet pass", "Apple pass"):
        if run == "Apple pass":
            log("")
            log("Every card gets an Apple Wallet pass registered on a device …")
            subprocess.run(
                [PYTHON, "bench/setup_apple_passes.py", str(data["merchant_id"])], cwd=BASE_DIR,
                env=app_env(args.db), check=True,
            )  # fmt: skip
            psql("VACUUM ANALYZE", database=args.db)
            psql("CHECKPOINT")
        log(f"POST {PURCHASE_PATH} through {best_config}, cards with {run}:")
        results: dict[int, Result] = {}
        server = Server(args.db, best_config)
        try:
            server.wait_ready()
            load(server.port, data["secret"], cards, 8, 300, 10)
            for clients in CLIENT_COUNTS:
                results[clients] = measured_load(
                    server, args.db, data["secret"], cards, clients, args.requests, args.seconds
                )
                log("  " + describe(results[clients]))
        finally:
            server.stop()
        runs[run] = results

    log("")
    one, five, fifteen = os.getloadavg()
    log(f"load average after: {one:.2f} {five:.2f} {fifteen:.2f}")
    log(
        f"calibration: the fixed Python loop took {calibration_before:.2f} ms before and {calibration_ms():.2f} ms "
        "after (figures are comparable across runs only where these are)"
    )
    for run, results in runs.items():
        log(f"Cards with {run}:")
        log(
            f"{'clients':>7} {'API/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'pgbench tps':>12} {'ratio':>6} {'CPU ratio':>9}"
            f" {'app CPU':>8} {'PG CPU':>7} {'pgbench PG CPU':>15} {'pgbench p50/p99 ms':>19}"
        )
        for clients in CLIENT_COUNTS:
            result, c = results[clients], ceiling[clients]
            ratio = result.throughput / c.tps if c.tps else float("nan")
            # The same comparison in CPU time spent per transaction (all processes on each side),
            # which other load on the machine does not distort.
            ours = result.app_cpu_ms + result.postgres_cpu_ms + result.client_cpu_ms
            cpu_ratio = (c.postgres_cpu_ms + c.client_cpu_ms) / ours if ours else float("nan")
            log(
                f"{clients:>7} {result.throughput:8.1f} {result.percentile(50):7.1f} {result.percentile(99):7.1f} "
                f"{c.tps:12.1f} {ratio:6.3f} {cpu_ratio:9.3f} {result.app_cpu_ms:6.2f}ms "
                f"{result.postgres_cpu_ms:5.2f}ms {c.postgres_cpu_ms:13.2f}ms {c.p50_ms:9.1f}/{c.p99_ms:.1f}"
            )
    at32 = runs["Apple pass"][32]
    ratio32 = at32.throughput / ceiling[32].tps
    checks = {
        "p99 < 100 ms": at32.percentile(99) < 100,
        "ratio to pgbench >= 0.25": ratio32 >= 0.25,
        "app CPU <= 4 ms": at32.app_cpu_ms <= 4,
        "PostgreSQL CPU <= 2.5 ms": at32.postgres_cpu_ms <= 2.5,
    }
    log(
        "Targets at 32 clients, cards with an Apple pass: "
        + ", ".join(f"{name}: {'met' if met else 'NOT met'}" for name, met in checks.items())
    )
    # The tail beside the database's own on this machine: at a given p50 the p99 is what the machine's
    # hiccups make of it (a shared core that stalls stalls every request in flight).
    api_p50, api_p99, db = at32.percentile(50), at32.percentile(99), ceiling[32]
    log(
        f"Tail at 32 clients, p99/p50: the API (Apple pass) {api_p99 / api_p50:.2f} ({api_p99:.1f}/{api_p50:.1f} ms), "
        f"pgbench {db.p99_ms / db.p50_ms:.2f} ({db.p99_ms:.1f}/{db.p50_ms:.1f} ms)"
    )
    busiest = max(CLIENT_COUNTS, key=lambda clients: ceiling[clients].tps)
    if busiest != 32:
        # On two cores pgbench's 32 backends may do less than fewer do; the ratio above is to its figure at 32.
        log(
            f"pgbench did most at {busiest} clients ({ceiling[busiest].tps:.1f} tps against "
            f"{ceiling[32].tps:.1f} at 32); against that, 32 clients with an Apple pass are "
            f"{at32.throughput / ceiling[busiest].tps:.3f} of pgbench"
        )
    log(
        f"At 32 clients one purchase (Apple pass) costs {at32.app_cpu_ms:.2f} ms of app CPU and "
        f"{at32.postgres_cpu_ms:.2f} ms of PostgreSQL CPU "
        f"(pgbench's transaction: {ceiling[32].postgres_cpu_ms:.2f} ms); "
        f"on {os.cpu_count()} dedicated cores that bounds the API at about "
        f"{os.cpu_count() * 1000 / (at32.app_cpu_ms + at32.postgres_cpu_ms + at32.client_cpu_ms):.0f} purchases/s."
    )
    failed = sum(result.ok != sum(result.statuses.values()) for results in runs.values() for result in results.values())

    # 5. The ledger still adds up.
    log("")
    log("verify_ledger on the bench database:")
    verify = subprocess.run(
        [PYTHON, "manage.py", "verify_ledger", "--merchant", str(data["merchant_id"])], cwd=BASE_DIR,
        env=app_env(args.db),
    )  # fmt: skip
    return 1 if verify.returncode or failed else 0


if __name__ == "__main__":
    sys.exit(main())
