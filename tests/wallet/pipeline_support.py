"""Fixtures for the wallet pipeline tests (imported by those modules): a
merchant with the throwaway pass certificate uploaded, Google credentials on
the fake Google, Celery run eagerly, and helpers acting as an iPhone."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from django.test import Client

from loyalty.wallet import credentials as wallet_credentials

PUBLIC_BASE_URL = "https://loyalty.test"
PASSKIT = "/wallet/passkit/"
ISSUER_ID = "3388000000022299999"


@pytest.fixture
def wallet_settings(settings, pki):
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    # Pages are asserted in English; the project default is Russian.
    settings.LANGUAGE_CODE = "en"
    # Signatures embed the throwaway "WWDR", so openssl can verify the chain to the throwaway root.
    settings.APPLE_WWDR_CERT_FILE = str(pki.files["wwdr"])
    settings.APPLE_PASS_CERT_FILE = ""
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = ""
    settings.WALLET_SYNC_DEBOUNCE_SECONDS = 1
    from django.core.cache import cache

    cache.clear()
    return settings


@pytest.fixture
def apple_merchant(merchant, pki, wallet_settings):
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    return merchant


@pytest.fixture
def google_merchant(merchant, fake_google, wallet_settings):
    info = fake_google.service_account_info()
    wallet_credentials.upload_google_credentials(
        merchant=merchant, issuer_id=ISSUER_ID, key_data=json.dumps(info).encode()
    )
    return merchant


@pytest.fixture
def eager_celery():
    """Tasks run at once, in this thread (countdowns ignored)."""
    from config.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


def clear_due_set() -> None:
    """Forget the due set and its drain flag of this test process's queue (loyalty/wallet/debounce.py)."""
    from loyalty.wallet import debounce

    debounce.forget()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


class IPhone:
    """Speaks the PassKit web service the way Wallet on an iPhone does."""

    def __init__(self, web_service_url: str, token: str, *, push_token: str | None = None):
        assert web_service_url.startswith(PUBLIC_BASE_URL), web_service_url
        self.base = web_service_url.removeprefix(PUBLIC_BASE_URL)
        self.token = token
        self.device_id = uuid.uuid4().hex
        self.push_token = push_token or uuid.uuid4().hex + uuid.uuid4().hex
        self.client = Client()

    def _auth(self, token: str | None) -> dict:
        return {"Authorization": f"ApplePass {token if token is not None else self.token}"}

    def register(self, pass_type: str, serial: str, *, token: str | None = None):
        return self.client.post(
            f"{self.base}v1/devices/{self.device_id}/registrations/{pass_type}/{serial}",
            json.dumps({"pushToken": self.push_token}),
            content_type="application/json",
            headers=self._auth(token),
        )

    def unregister(self, pass_type: str, serial: str, *, token: str | None = None):
        return self.client.delete(
            f"{self.base}v1/devices/{self.device_id}/registrations/{pass_type}/{serial}", headers=self._auth(token)
        )

    def serials(self, pass_type: str, since: str | None = None):
        params = {"passesUpdatedSince": since} if since is not None else {}
        return self.client.get(f"{self.base}v1/devices/{self.device_id}/registrations/{pass_type}", params)

    def latest(self, pass_type: str, serial: str, *, token: str | None = None, if_modified_since: str | None = None):
        headers = self._auth(token)
        if if_modified_since:
            headers["If-Modified-Since"] = if_modified_since
        return self.client.get(f"{self.base}v1/passes/{pass_type}/{serial}", headers=headers)

    def log(self, *lines: str):
        body = json.dumps({"logs": list(lines)})
        return self.client.post(f"{self.base}v1/log", body, content_type="application/json")
