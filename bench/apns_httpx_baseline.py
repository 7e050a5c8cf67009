"""The APNs client as it was before the h2 rewrite (httpx/httpcore HTTP/2), kept for bench/push_fanout.py.

Only the benchmark imports it, to print the "before" figures beside the current
client in the same run. It reuses the current module's TLS context and reply
classification, so the two differ only in the HTTP/2 path.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import replace

import httpx

from loyalty.wallet.apns import _TOKEN, APNsConfig, PushResult, PushStatus, classify, tls_context


class HttpxAPNsClient:
    def __init__(self, cert, config: APNsConfig):
        self.cert = cert
        self.config = config
        self._http = httpx.AsyncClient(
            http1=False,
            http2=True,
            verify=tls_context(cert, config),
            base_url=f"https://{config.host}:{config.port}",
            timeout=httpx.Timeout(config.timeout_seconds),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
                keepalive_expiry=600,
            ),
        )
        self._semaphore = asyncio.Semaphore(config.concurrency)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def push(self, token: str, topic: str | None = None) -> PushResult:
        if not _TOKEN.match(token):
            return PushResult(token, PushStatus.UNREGISTERED, reason="MalformedToken", attempts=0)
        topic = topic or self.cert.pass_type_identifier
        attempt = 0
        while True:
            attempt += 1
            async with self._semaphore:
                result = await self._push_once(token, topic)
            if result.status is not PushStatus.RETRYABLE or attempt >= self.config.max_attempts:
                return replace(result, attempts=attempt)
            delay = self.config.backoff_seconds * 2 ** (attempt - 1) * (1 + random.random() / 4)
            await asyncio.sleep(delay)

    async def push_many(self, tokens: Iterable[str], topic: str | None = None) -> dict[str, PushResult]:
        unique = list(dict.fromkeys(tokens))
        results = await asyncio.gather(*(self.push(token, topic) for token in unique))
        return dict(zip(unique, results, strict=True))

    async def _push_once(self, token: str, topic: str) -> PushResult:
        try:
            response = await self._http.post(
                f"/3/device/{token}",
                content=b"{}",
                headers={"apns-topic": topic, "content-type": "application/json"},
            )
        except httpx.TransportError as exc:
            return PushResult(token, PushStatus.RETRYABLE, reason=f"{type(exc).__name__}: {exc}")
        return classify(token, response.status_code, response.content, response.headers.get("apns-id", ""))
