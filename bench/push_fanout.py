"""Pushes to the fake APNs for N registered devices (default 10,000): our CPU per push, pushes/s, wall time.

    .venv/bin/python bench/push_fanout.py [--devices 10000] [--concurrency 300] [--connections 2]
                                          [--clients h2,httpx] [--server hypercorn|bare]

The fake APNs (HTTP/2, TLS, client certificate required) runs in its own
process. Each client runs in a process of its own too, so the CPU figure per
push is the client process's CPU time only (time.process_time around the
batch, after a warm-up push has opened the connection), and the fake server's
CPU is measured in its process and printed apart. Clients:

- ``h2``: loyalty.wallet.apns as it is now (a client on h2 over asyncio);
- ``httpx``: the client before the rewrite (bench/apns_httpx_baseline.py), for the "before" figure;
- ``aioapns``: aioapns, when it is importable (it is not a project dependency).

Servers: ``hypercorn`` is tests/fakes/apns.py's FakeAPNs (it answers a 200 with
HEADERS then an empty DATA frame, which aioapns 4.0 cannot parse); ``bare`` is
its BareAPNs, a plain h2 server answering HEADERS with END_STREAM like APNs.

A throwaway PKI is made on the spot. Each run is bounded by --timeout seconds.
Target (issue 11): at most 1 ms of our CPU per push.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TARGET_CPU_MS = 1.0


def _serve(client_ca_file: str, workdir: str, kind: str, pipe) -> None:
    from tests.fakes.apns import BareAPNs, FakeAPNs

    if kind == "bare":
        fake = BareAPNs(client_ca_file=Path(client_ca_file), workdir=Path(workdir)).start()
    else:
        fake = FakeAPNs(client_ca_file=Path(client_ca_file), workdir=Path(workdir)).start()
    pipe.send((fake.port, str(fake.server_ca_file)))
    while True:
        command = pipe.recv()
        if command == "cpu":
            pipe.send(time.process_time())
        elif command == "stats":
            if kind == "bare":
                requests = list(fake.requests)
                pipe.send((len(requests), len({number for number, _, _ in requests}), {"2"}))
                fake.requests.clear()
            else:
                requests = list(fake.requests)
                pipe.send((len(requests), len({r.client for r in requests}), {r.http_version for r in requests}))
                fake.reset()
        else:
            break
    fake.stop()


def _setup() -> None:
    import logging

    import django

    django.setup()
    for name in ("httpx", "loyalty", "aioapns"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run_h2(cert, config, tokens, timeout):
    from loyalty.wallet import apns

    apns.send_pushes(cert, None, tokens[:1], config=config)  # warm-up: TLS handshake, connection open
    started, cpu = time.perf_counter(), time.process_time()
    results = apns.send_pushes(cert, None, tokens[1:], config=config)
    cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
    apns.close_connections()
    return sum(r.status == apns.PushStatus.OK for r in results.values()), cpu, elapsed


def _run_httpx(cert, config, tokens, timeout):
    import asyncio

    from bench.apns_httpx_baseline import HttpxAPNsClient
    from loyalty.wallet.apns import PushStatus

    async def run():
        client = HttpxAPNsClient(cert, config)
        await client.push_many(tokens[:1])
        started, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.wait_for(client.push_many(tokens[1:]), timeout)
        cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
        await client.aclose()
        return sum(r.status is PushStatus.OK for r in results.values()), cpu, elapsed

    return asyncio.run(run())


def _run_aioapns(cert, config, tokens, timeout):
    import asyncio

    from aioapns import APNs, NotificationRequest
    from aioapns.connection import APNsProductionClientProtocol
    from cryptography.hazmat.primitives import serialization

    APNsProductionClientProtocol.APNS_SERVER = config.host
    APNsProductionClientProtocol.APNS_PORT = config.port
    combined = Path(tempfile.mkdtemp(prefix="bench-aioapns-")) / "client.pem"
    combined.write_bytes(
        cert.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.certificate_pem(with_chain=True)
    )
    import ssl

    context = ssl.create_default_context(cafile=config.ca_file)
    context.load_cert_chain(str(combined))

    async def run():
        client = APNs(
            client_cert=str(combined), ssl_context=context, max_connections=config.max_connections,
            topic=cert.pass_type_identifier, use_sandbox=False,
        )  # fmt: skip

        async def one(token):
            request = NotificationRequest(device_token=token, message={})
            return await client.send_notification(request)

        await one(tokens[0])
        started, cpu = time.perf_counter(), time.process_time()
        responses = await asyncio.wait_for(asyncio.gather(*(one(t) for t in tokens[1:])), timeout)
        cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
        return sum(r.is_successful for r in responses), cpu, elapsed

    return asyncio.run(run())


RUNNERS = {"h2": _run_h2, "httpx": _run_httpx, "aioapns": _run_aioapns}


def _client(name, port, server_ca, pem, key_pem, args, pipe) -> None:
    _setup()
    from loyalty.wallet import apns, certificates

    cert = certificates.load_pem(pem, key_pem)
    config = apns.APNsConfig(
        host="127.0.0.1",
        port=port,
        ca_file=server_ca,
        concurrency=args.concurrency,
        max_connections=args.connections,
        timeout_seconds=30,
    )
    tokens = [os.urandom(32).hex() for _ in range(args.devices + 1)]
    try:
        pipe.send(RUNNERS[name](cert, config, tokens, args.timeout))
    except ImportError as exc:
        pipe.send(f"not installed ({exc.name})")
    except Exception as exc:  # reported, so that the other clients still run
        pipe.send(f"failed: {type(exc).__name__}: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--clients", default="h2,httpx", help="comma-separated: h2, httpx, aioapns")
    parser.add_argument("--server", choices=["hypercorn", "bare"], default="hypercorn")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    from tests.fakes.pki import make_pki

    workdir = Path(tempfile.mkdtemp(prefix="bench-apns-"))
    pki = make_pki()
    files = pki.write(workdir)
    spawn = multiprocessing.get_context("spawn")

    server_pipe, child = spawn.Pipe()
    server = spawn.Process(target=_serve, args=(str(files["ca"]), str(workdir), args.server, child))
    server.start()
    if not server_pipe.poll(30):
        sys.exit("the fake APNs did not start")
    port, server_ca = server_pipe.recv()

    print(f"devices: {args.devices}; concurrency {args.concurrency}, at most {args.connections} connection(s); "
          f"fake APNs ({args.server}) in a separate process")  # fmt: skip
    print(f"target: our CPU <= {TARGET_CPU_MS:.2f} ms per push")
    print(f"{'client':<8} {'ok':>6} {'our CPU/push':>13} {'server CPU/push':>16} {'pushes/s':>9} {'wall':>8}  "
          f"server saw")  # fmt: skip
    figures = {}
    for name in [n.strip() for n in args.clients.split(",") if n.strip()]:
        parent, child = spawn.Pipe()
        server_pipe.send("cpu")
        server_cpu = server_pipe.recv()
        process = spawn.Process(
            target=_client,
            args=(name, port, server_ca, pki.pass_cert.cert_pem, pki.pass_cert.key_pem(), args, child),
        )
        process.start()
        if not parent.poll(args.timeout + 60):
            process.kill()
            print(f"{name:<8} not finished within {args.timeout:.0f} s")
            continue
        outcome = parent.recv()
        process.join(30)
        server_pipe.send("cpu")
        server_cpu = server_pipe.recv() - server_cpu
        server_pipe.send("stats")
        received, connections, versions = server_pipe.recv()
        if isinstance(outcome, str):
            print(f"{name:<8} {outcome}")
            continue
        ok, cpu, elapsed = outcome
        pushes = args.devices
        figures[name] = cpu / pushes * 1000
        print(
            f"{name:<8} {ok:>6} {cpu / pushes * 1000:>10.3f} ms {server_cpu / pushes * 1000:>13.3f} ms "
            f"{pushes / elapsed:>9.0f} {elapsed:>6.2f} s  {received} requests (HTTP/{'/'.join(sorted(versions))}) "
            f"over {connections} connection(s)"
        )
    server_pipe.send("stop")
    server.join(15)
    if "h2" in figures and "httpx" in figures:
        print(f"our CPU per push, h2 / httpx: {figures['h2'] / figures['httpx']:.2f}")
    if "h2" in figures:
        verdict = "meets" if figures["h2"] <= TARGET_CPU_MS else "misses"
        print(f"h2 client {verdict} the target ({figures['h2']:.3f} ms vs <= {TARGET_CPU_MS:.2f} ms per push)")


if __name__ == "__main__":
    main()
