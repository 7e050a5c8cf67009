"""Pushes per second to the fake APNs for N registered devices (default 10,000).

    .venv/bin/python bench/push_fanout.py [--devices 10000] [--concurrency 300] [--in-process]

The fake APNs (HTTP/2, TLS, client certificate required) runs in its own
process by default, so that client and server do not share one interpreter
lock; --in-process puts it in a thread of this process instead. A throwaway
PKI is made on the spot. The run is bounded by --timeout seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _serve(client_ca_file: str, workdir: str, pipe) -> None:
    from tests.fakes.apns import FakeAPNs

    fake = FakeAPNs(client_ca_file=Path(client_ca_file), workdir=Path(workdir)).start()
    pipe.send((fake.port, str(fake.server_ca_file)))
    pipe.recv()  # wait for "stop"
    pipe.send(
        (len(fake.requests), len(fake.connections), {r.http_version for r in fake.requests}, len(fake.handshakes))
    )
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("loyalty").setLevel(logging.WARNING)

    from loyalty.wallet import apns, certificates
    from tests.fakes.apns import FakeAPNs
    from tests.fakes.pki import make_pki

    workdir = Path(tempfile.mkdtemp(prefix="bench-apns-"))
    pki = make_pki()
    files = pki.write(workdir)
    cert = certificates.load_pem(pki.pass_cert.cert_pem, pki.pass_cert.key_pem())

    if args.in_process:
        fake = FakeAPNs(client_ca_file=files["ca"], workdir=workdir).start()
        port, server_ca = fake.port, str(fake.server_ca_file)
    else:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(files["ca"]), str(workdir), child)
        )
        server.start()
        if not parent.poll(30):
            sys.exit("the fake APNs did not start")
        port, server_ca = parent.recv()

    config = apns.APNsConfig(
        host="127.0.0.1",
        port=port,
        ca_file=server_ca,
        concurrency=args.concurrency,
        max_connections=args.connections,
        timeout_seconds=30,
    )
    tokens = [os.urandom(32).hex() for _ in range(args.devices)]
    # Warm up: open the connection (TLS handshake) before timing.
    apns.send_pushes(cert, None, tokens[:1], config=config)

    import concurrent.futures

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(apns.send_pushes, cert, None, tokens, config=config)
        try:
            results = future.result(timeout=args.timeout)
        except concurrent.futures.TimeoutError:
            sys.exit(f"not finished within {args.timeout:.0f} s")
    elapsed = time.perf_counter() - started
    apns.close_connections()

    if args.in_process:
        received, connections, versions, handshakes = (
            len(fake.requests), len(fake.connections), {r.http_version for r in fake.requests}, len(fake.handshakes)
        )  # fmt: skip
        fake.stop()
    else:
        parent.send("stop")
        received, connections, versions, handshakes = parent.recv()
        server.join(15)

    ok = sum(1 for r in results.values() if r.status == apns.PushStatus.OK)
    print(f"devices:            {args.devices}")
    print(f"pushes ok:          {ok}")
    print(f"server received:    {received} (HTTP/{'/'.join(sorted(versions))}) over {connections} connection(s), "
          f"{handshakes} TLS handshake(s)")  # fmt: skip
    print(f"concurrency:        {args.concurrency} in flight, {args.connections} connection(s) max")
    print(f"fake APNs:          {'same process' if args.in_process else 'separate process'}")
    print(f"elapsed:            {elapsed:.2f} s")
    print(f"pushes per second:  {args.devices / elapsed:.0f}")


if __name__ == "__main__":
    main()
