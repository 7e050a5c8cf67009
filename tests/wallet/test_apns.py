import datetime as dt
import socket
import time

import pytest

from loyalty.wallet import apns, certificates
from loyalty.wallet.apns import APNsConfig, PushStatus
from tests.fakes import apns as fake

TOKEN = "a1" * 32


def fast(**overrides) -> APNsConfig:
    return APNsConfig.from_settings(backoff_seconds=0.01, **overrides)


def test_push_uses_http2_topic_path_body_and_client_certificate(apns_server, signer):
    results = apns.send_pushes(signer, "pass.com.example.loyalty", [TOKEN], config=fast())

    assert results[TOKEN].status is PushStatus.OK
    assert results[TOKEN].http_status == 200
    assert results[TOKEN].apns_id
    [request] = apns_server.requests
    assert request.http_version == "2"
    assert request.method == "POST"
    assert request.path == f"/3/device/{TOKEN}"
    assert request.topic == "pass.com.example.loyalty"
    assert request.body == b"{}"
    subjects = [h.get("userId") for h in apns_server.handshakes]
    assert "pass.com.example.loyalty" in subjects


def test_topic_defaults_to_the_certificate_pass_type(apns_server, signer):
    apns.send_pushes(signer, None, [TOKEN], config=fast())
    assert apns_server.requests[0].topic == signer.pass_type_identifier


def test_stored_bundle_can_be_passed_directly(apns_server, signer):
    results = apns.send_pushes(signer.to_bundle(), None, [TOKEN], config=fast())
    assert results[TOKEN].status is PushStatus.OK


def test_settings_give_host_port_and_ca(apns_server):
    config = APNsConfig.from_settings()
    assert (config.host, config.port, config.ca_file) == (
        "127.0.0.1", apns_server.port, str(apns_server.server_ca_file)
    )  # fmt: skip


def test_unregistered_and_bad_tokens(apns_server, signer):
    gone, bad, ok = "b2" * 32, "c3" * 32, "d4" * 32
    apns_server.script(gone, fake.unregistered(1_700_000_000_000))
    apns_server.script(bad, fake.BAD_DEVICE_TOKEN)

    results = apns.send_pushes(signer, None, [gone, bad, ok], config=fast())

    assert results[gone].status is PushStatus.UNREGISTERED
    assert results[gone].http_status == 410
    assert results[gone].unregistered_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert results[bad].status is PushStatus.UNREGISTERED
    assert results[bad].reason == "BadDeviceToken"
    assert results[ok].status is PushStatus.OK
    # Neither is retried.
    assert len(apns_server.requests_for(gone)) == 1
    assert len(apns_server.requests_for(bad)) == 1


@pytest.mark.parametrize("first", [fake.TOO_MANY_REQUESTS, fake.INTERNAL_SERVER_ERROR])
def test_429_and_500_are_retried_then_ok(apns_server, signer, first):
    apns_server.script(TOKEN, first, fake.OK)
    result = apns.send_pushes(signer, None, [TOKEN], config=fast())[TOKEN]
    assert result.status is PushStatus.OK
    assert result.attempts == 2
    assert len(apns_server.requests_for(TOKEN)) == 2


def test_retries_stop_after_max_attempts(apns_server, signer):
    apns_server.script(TOKEN, fake.Reply(503, "ServiceUnavailable"))
    result = apns.send_pushes(signer, None, [TOKEN], config=fast(max_attempts=3))[TOKEN]
    assert result.status is PushStatus.RETRYABLE
    assert result.attempts == 3
    assert result.reason == "ServiceUnavailable"
    assert len(apns_server.requests_for(TOKEN)) == 3


def test_permanent_errors_are_failed_without_retry(apns_server, signer):
    apns_server.script(TOKEN, fake.Reply(400, "DeviceTokenNotForTopic"))
    result = apns.send_pushes(signer, None, [TOKEN], config=fast())[TOKEN]
    assert result.status is PushStatus.FAILED
    assert result.reason == "DeviceTokenNotForTopic"
    assert len(apns_server.requests_for(TOKEN)) == 1


def test_connection_errors_are_retryable(signer):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    config = APNsConfig(host="127.0.0.1", port=closed_port, backoff_seconds=0.01, max_attempts=2)
    result = apns.send_pushes(signer, None, [TOKEN], config=config)[TOKEN]
    assert result.status is PushStatus.RETRYABLE
    assert result.attempts == 2
    assert "ConnectError" in result.reason


def test_malformed_token_never_reaches_the_server(apns_server, signer):
    result = apns.send_pushes(signer, None, ["../../etc"], config=fast())["../../etc"]
    assert result.status is PushStatus.UNREGISTERED
    assert apns_server.requests == []


def test_many_pushes_in_flight_over_one_reused_connection(apns_server, signer):
    # Every reply is held until 100 pushes are in flight at once (httpcore's cap of streams on one HTTP/2
    # connection): only concurrent pushes get there; sequential ones would wait for an answer that never
    # comes, and the test would fail.
    tokens = [f"{i:064x}" for i in range(200)]
    for token in tokens:
        apns_server.script(token, fake.Reply(hold=True))
    config = fast(concurrency=200)

    seen = apns_server.release_when_in_flight(100)
    results = apns.send_pushes(signer, None, tokens, config=config)

    assert {r.status for r in results.values()} == {PushStatus.OK}
    assert {r.attempts for r in results.values()} == {1}
    assert seen and seen[0] >= 100, seen
    assert len(apns_server.connections) == 1
    handshakes = len(apns_server.handshakes)
    # A second batch from another task reuses the same connection: no new handshake.
    apns.send_pushes(signer, None, tokens[:5], config=config)
    assert len(apns_server.connections) == 1
    assert len(apns_server.handshakes) == handshakes


def test_concurrency_is_bounded(apns_server, signer):
    tokens = [f"{i:064x}" for i in range(60)]
    for token in tokens:
        apns_server.script(token, fake.Reply(delay=0.2))
    started = time.monotonic()
    apns.send_pushes(signer, None, tokens, config=fast(concurrency=20))
    # 60 pushes, 20 at a time, 0.2 s each: at least three rounds.
    assert time.monotonic() - started >= 0.55
    # And never more than 20 at the server at once.
    assert apns_server.max_in_flight <= 20


def test_an_untrusted_client_certificate_is_refused(apns_server, pki):
    # Same PKI names, but a certificate from a CA the server does not trust.
    from tests.fakes.pki import make_pki

    stranger = make_pki()
    cert = certificates.load_pem(stranger.pass_cert.cert_pem, stranger.pass_cert.key_pem())
    result = apns.send_pushes(cert, None, [TOKEN], config=fast(max_attempts=1))[TOKEN]
    assert result.status is PushStatus.RETRYABLE
    assert apns_server.requests == []


def test_duplicate_tokens_are_pushed_once(apns_server, signer):
    results = apns.send_pushes(signer, None, [TOKEN, TOKEN], config=fast())
    assert list(results) == [TOKEN]
    assert len(apns_server.requests) == 1


def test_no_tokens_no_connection(apns_server, signer):
    assert apns.send_pushes(signer, None, [], config=fast()) == {}
    assert apns_server.requests == []


# --- the h2 client: streams, connections, GOAWAY, connection loss ---


@pytest.fixture
def own_fake(pki, tmp_path):
    """A fake APNs of the test's own, with the given server settings."""
    servers = []

    def start(**options):
        server = fake.FakeAPNs(client_ca_file=pki.files["ca"], workdir=tmp_path / f"apns{len(servers)}", **options)
        servers.append(server.start())
        return server

    yield start
    apns.close_connections()
    for server in servers:
        server.stop()


def config_for(server, **overrides) -> APNsConfig:
    return APNsConfig(
        host=server.host, port=server.port, ca_file=str(server.server_ca_file), backoff_seconds=0.01, **overrides
    )


def test_one_connection_carries_many_streams_at_once(apns_server, signer):
    tokens = [f"{i:064x}" for i in range(150)]
    for token in tokens:
        apns_server.script(token, fake.Reply(delay=0.5))
    results = apns.send_pushes(signer, None, tokens, config=fast(concurrency=300))
    assert {r.status for r in results.values()} == {PushStatus.OK}
    [(connection, peak)] = apns_server.peak_streams.items()
    # All 150 were in progress on the server at the same moment, over the one connection.
    assert peak == 150


def test_the_servers_stream_limit_is_respected_and_a_second_connection_opens(own_fake, signer):
    server = own_fake(max_concurrent_streams=10)
    tokens = [f"{i:064x}" for i in range(60)]
    for token in tokens:
        server.script(token, fake.Reply(delay=0.2))
    results = apns.send_pushes(signer, None, tokens, config=config_for(server, concurrency=300, max_connections=2))
    assert {r.status for r in results.values()} == {PushStatus.OK}
    assert {r.attempts for r in results.values()} == {1}
    assert len(server.requests) == 60
    # Never more streams on a connection than the server's SETTINGS_MAX_CONCURRENT_STREAMS, and
    # both connections allowed were used, each to its limit.
    assert sorted(server.peak_streams.values()) == [10, 10]


def test_a_connection_lost_mid_batch_is_retried_on_a_new_one_without_loss_or_duplicates(apns_server, signer):
    tokens = [f"{i:064x}" for i in range(40)]
    for token in tokens:
        apns_server.script(token, fake.Reply(delay=0.5))
    cutter = tokens[20]
    # While the other 39 are in progress, this one's request makes the server cut the connection.
    apns_server.script(cutter, fake.Reply(delay=0.1, drop=True), fake.OK)

    results = apns.send_pushes(signer, None, tokens, config=fast(concurrency=100))

    assert list(results) == tokens
    assert {r.status for r in results.values()} == {PushStatus.OK}  # no loss
    assert len(apns_server.connections) == 2
    assert len(apns_server.requests_for(cutter)) == 2
    for token in tokens:
        # Each push went out once per attempt, and again only when its answer was lost with the connection.
        assert len(apns_server.requests_for(token)) == results[token].attempts
    first, second = sorted(apns_server.connections, key=lambda c: apns_server.requests.index(
        next(r for r in apns_server.requests if r.client == c)))  # fmt: skip
    assert {r.token for r in apns_server.requests if r.client == second} == set(tokens)


def test_goaway_streams_up_to_the_last_are_answered_the_rest_resent_on_a_new_connection(pki, signer, tmp_path):
    server = fake.BareAPNs(client_ca_file=pki.files["ca"], workdir=tmp_path, requests_per_connection=5)
    tokens = [f"{i:064x}" for i in range(23)]
    with server:
        try:
            results = apns.send_pushes(signer, None, tokens, config=config_for(server, concurrency=300))
        finally:
            apns.close_connections()

    assert {r.status for r in results.values()} == {PushStatus.OK}
    # Every push answered exactly once: the streams after GOAWAY's last stream were resent (on
    # new connections), the ones up to it were answered on the draining connection and not resent.
    assert sorted(server.answered) == sorted(tokens)
    # 23 pushes, 5 per connection: four connections retired by GOAWAY, the fifth carries the last three.
    assert len(server.goaways) == 4
    assert len({connection for connection, _, _ in server.requests}) == 5
    # Streams the server never processed are not counted as attempts.
    assert {r.attempts for r in results.values()} == {1}


def test_optional_push_type_and_priority_headers(apns_server, signer):
    apns.send_pushes(signer, None, [TOKEN], config=fast(push_type="background", priority=5))
    [request] = apns_server.requests
    assert request.headers["apns-push-type"] == "background"
    assert request.headers["apns-priority"] == "5"
    # By default neither is sent (wallet spec §3).
    apns_server.reset()
    apns.send_pushes(signer, None, [TOKEN], config=fast())
    assert "apns-push-type" not in apns_server.requests[0].headers
    assert "apns-priority" not in apns_server.requests[0].headers
    with pytest.raises(ValueError, match="priority 5"):
        fast(push_type="background", priority=10)


def test_an_unanswered_push_times_out_and_is_retried(apns_server, signer):
    apns_server.script(TOKEN, fake.Reply(delay=30), fake.OK)
    result = apns.send_pushes(signer, None, [TOKEN], config=fast(timeout_seconds=0.5))[TOKEN]
    assert result.status is PushStatus.OK
    assert result.attempts == 2
    assert len(apns_server.requests_for(TOKEN)) == 2


def test_bodies_wait_for_flow_control_credit(pki, signer, tmp_path):
    # The server announces a stream window of 0: each body ("{}") may only go once it grants credit.
    server = fake.BareAPNs(client_ca_file=pki.files["ca"], workdir=tmp_path, stream_window=0)
    tokens = [f"{i:064x}" for i in range(30)]
    with server:
        try:
            results = apns.send_pushes(signer, None, tokens, config=config_for(server, timeout_seconds=3))
        finally:
            apns.close_connections()
    assert {(r.status, r.attempts) for r in results.values()} == {(PushStatus.OK, 1)}
    assert sorted(server.answered) == sorted(tokens)
