"""The PassKit web service's reads and writes (wallet spec §2): devices
registering passes for updates, the list of passes updated since a tag, and
the device log."""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from loyalty.models import AppleDevice, AppleRegistration, DeviceLog, WalletPass

AUTH_SCHEME = "ApplePass "
# The log endpoint is public (devices send no credentials): each request
# keeps at most this much, and each client address may post only so often
# (settings.PASSKIT_LOG_RATE_LIMIT_PER_ADDRESS, requests per seconds). A device
# logs a few lines per failed request, so honest devices never reach these.
MAX_LOG_LINES = 20
MAX_LOG_LINE_LENGTH = 2000
MAX_LOG_CHARS_PER_REQUEST = 20_000
MAX_LOG_BODY_BYTES = 64 * 1024
DEFAULT_LOG_RATE_LIMIT_PER_ADDRESS = (30, 3600)
# Constant-time comparison needs something to compare against when the serial is unknown.
_DUMMY_TOKEN = "x" * 32


def authenticated_pass(
    *, pass_type_identifier: str, serial_number: str, authorization: str | None
) -> WalletPass | None:
    """The pass named in the URL if the request carries its token
    (``Authorization: ApplePass <token>``); None for an unknown pass, a pass
    of another type, or a wrong or missing token (the device gets 401)."""
    wallet_pass = WalletPass.objects.filter(serial_number=serial_number).first()
    given = authorization[len(AUTH_SCHEME) :] if authorization and authorization.startswith(AUTH_SCHEME) else ""
    expected = wallet_pass.authentication_token if wallet_pass is not None else _DUMMY_TOKEN
    token_ok = hmac.compare_digest(given.strip().encode(), expected.encode())
    if wallet_pass is None or not token_ok or not given:
        return None
    if wallet_pass.pass_type_identifier and wallet_pass.pass_type_identifier != pass_type_identifier:
        return None
    return wallet_pass


def register_device(
    *, wallet_pass: WalletPass, device_library_identifier: str, push_token: str, now: datetime | None = None
) -> bool:
    """Register the device for the pass's updates. True if newly registered
    (201), False if it already was (200). Either way the push token and the
    registration's time are renewed."""
    now = now or timezone.now()
    with transaction.atomic():
        device, created = AppleDevice.objects.select_for_update().get_or_create(
            device_library_identifier=device_library_identifier,
            defaults={"push_token": push_token, "created_at": now, "updated_at": now},
        )
        if not created:
            device.push_token, device.updated_at = push_token, now
            device.save(update_fields=["push_token", "updated_at"])
        try:
            with transaction.atomic():
                AppleRegistration.objects.create(
                    merchant_id=wallet_pass.merchant_id,
                    device=device,
                    wallet_pass=wallet_pass,
                    created_at=now,
                    updated_at=now,
                )
            return True
        except IntegrityError:
            AppleRegistration.objects.filter(device=device, wallet_pass=wallet_pass).update(updated_at=now)
            return False


def unregister_device(*, wallet_pass: WalletPass, device_library_identifier: str) -> None:
    """Remove the registration, and the device once it has none left."""
    with transaction.atomic():
        device = (
            AppleDevice.objects.select_for_update().filter(device_library_identifier=device_library_identifier).first()
        )
        if device is None:
            return
        AppleRegistration.objects.filter(device=device, wallet_pass=wallet_pass).delete()
        if not device.registrations.exists():
            device.delete()


@dataclass(frozen=True)
class UpdatedSerials:
    serial_numbers: list[str]
    last_updated: str  # a string, always: an integer makes iOS stop asking


def updated_serials(
    *, device_library_identifier: str, pass_type_identifier: str, passes_updated_since: str | None
) -> UpdatedSerials | None:
    """Every pass of this type registered on the device and updated after the
    tag (all of them without a tag); None when there is none (204)."""
    registered = WalletPass.objects.filter(
        registrations__device__device_library_identifier=device_library_identifier,
        pass_type_identifier=pass_type_identifier,
    )
    latest = registered.aggregate(tag=Max("update_tag"))["tag"]
    if latest is None:
        return None
    since = _parse_tag(passes_updated_since)
    changed = registered if since is None else registered.filter(update_tag__gt=since)
    serials = sorted(changed.values_list("serial_number", flat=True).distinct())
    if not serials:
        return None
    return UpdatedSerials(serials, str(latest))


def _parse_tag(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


# --- Last-Modified ----------------------------------------------------------------------------
#
# A pass's updated_at holds whole seconds and moves to a new second with every
# change (passes.mark_cards_changed), a second ahead of the clock when two
# changes share one. Last-Modified is updated_at; when a device asks before
# that second has come (right after such changes), the answer waits for it
# (at most MAX_LAST_MODIFIED_WAIT seconds), so Last-Modified is never later
# than the response's Date and still grows with each change. Devices fetch
# after a push, which the debounced sync sends seconds after the change, so in
# practice nobody waits.
MAX_LAST_MODIFIED_WAIT = 2.0


def last_modified(updated_at: datetime) -> int:
    """The pass's Last-Modified, in seconds since the epoch (time-zone free)."""
    return math.ceil(updated_at.timestamp())


def not_modified_since(*, updated_at: datetime, if_modified_since: int | None, now: float | None = None) -> bool:
    """True when the device's copy (its If-Modified-Since) already has this
    state: answer 304. A date later than now is ignored (RFC 2616 §14.25 calls it invalid):
    passes once got such dates from a time-zone bug, and their devices must
    fetch again."""
    if if_modified_since is None or if_modified_since > (time.time() if now is None else now):
        return False
    return if_modified_since >= last_modified(updated_at)


def settled_last_modified(
    wallet_pass: WalletPass,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """The pass's Last-Modified once that second has come: waits when it is
    still to come (re-reading the pass, which may have changed meanwhile).
    When it is further off than MAX_LAST_MODIFIED_WAIT, gives the current
    second instead: not later than now, and older than the pass, so the
    device's next request gets the pass again rather than a 304."""
    modified = last_modified(wallet_pass.updated_at)
    for _attempt in range(3):
        wait = modified - clock()
        if wait <= 0:
            return modified
        if wait > MAX_LAST_MODIFIED_WAIT:
            break
        sleep(wait)
        wallet_pass.refresh_from_db(fields=["updated_at"])
        modified = last_modified(wallet_pass.updated_at)
    return min(modified, math.floor(clock()))


def download_last_modified(updated_at: datetime, *, now: float | None = None) -> int:
    """Last-Modified for an answer that doesn't wait (the customer's "Add to
    Apple Wallet", a 304): the pass's, or the current second while the pass's
    is still to come."""
    now = time.time() if now is None else now
    return min(last_modified(updated_at), math.floor(now))


def record_fetch(*, wallet_pass: WalletPass, now: datetime | None = None) -> None:
    now = now or timezone.now()
    WalletPass.objects.filter(pk=wallet_pass.pk).update(last_fetched_at=now)


def device_log_limit() -> tuple[int, int]:
    """(requests, seconds) one client address may post to the device log."""
    count, seconds = getattr(settings, "PASSKIT_LOG_RATE_LIMIT_PER_ADDRESS", DEFAULT_LOG_RATE_LIMIT_PER_ADDRESS)
    return int(count), int(seconds)


def store_device_logs(*, lines: list, now: datetime | None = None) -> int:
    """Keep the first lines of a device's log post, within the per-request caps."""
    now = now or timezone.now()
    rows: list[DeviceLog] = []
    budget = MAX_LOG_CHARS_PER_REQUEST
    for line in lines:
        if len(rows) >= MAX_LOG_LINES or budget <= 0:
            break
        if not isinstance(line, str) or not line.strip():
            continue
        message = line[: min(MAX_LOG_LINE_LENGTH, budget)]
        budget -= len(message)
        rows.append(DeviceLog(message=message, created_at=now))
    DeviceLog.objects.bulk_create(rows)
    return len(rows)
