"""Writes for merchants: sign-up, locations, staff invitations and POS API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, slugs
from .currency import default_amount
from .exceptions import InvitationInvalid, InvitationPending, MerchantError
from .models import (
    DEFAULT_TILL_MAX_BILL,
    ApiKey,
    Invitation,
    Location,
    Membership,
    Merchant,
    MerchantSlugAlias,
    OnboardingMark,
    Role,
    User,
)

API_KEY_PREFIX = "lk_"

logger = logging.getLogger(__name__)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@transaction.atomic
def merchant_sign_up(
    *, business_name: str, country: str, currency: str, time_zone: str, email: str, password: str, full_name: str = ""
) -> tuple[Merchant, User]:
    """Create a merchant and its owner. The caller has validated the fields; the
    e-mail's uniqueness is rechecked here under the database constraint."""
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise MerchantError(_("A user with this e-mail already exists."), field="email")
    merchant = Merchant(
        name=business_name.strip(),
        slug=slugs.unique_from_name(business_name),
        country=country.upper(),
        currency=currency.upper(),
        time_zone=time_zone,
        till_max_bill=default_amount(DEFAULT_TILL_MAX_BILL, currency),
    )
    merchant.full_clean()
    merchant.save()
    owner = User(email=email, full_name=full_name)
    validate_password(password, owner)
    owner.set_password(password)
    try:
        with transaction.atomic():
            owner.save()
            Membership.objects.create(user=owner, merchant=merchant, role=Role.OWNER)
    except IntegrityError as exc:
        raise MerchantError(_("A user with this e-mail already exists."), field="email") from exc
    return merchant, owner


# Checks other apps register (``register_currency_lock``) that say why a merchant's
# currency can no longer change, e.g. "it has purchases"; merchants never imports them.
CURRENCY_LOCKS: list[Callable[[Merchant], bool]] = []


def register_currency_lock(check: Callable[[Merchant], bool]) -> None:
    if check not in CURRENCY_LOCKS:
        CURRENCY_LOCKS.append(check)


# Hooks other apps register (``register_currency_change``) to move their defaults to a merchant's new
# currency (the program's tier thresholds and the value of a point); called in the same transaction,
# only while the currency is not locked, with the merchant already in its new currency.
CURRENCY_CHANGE_HOOKS: list[Callable[..., None]] = []


def register_currency_change(hook: Callable[..., None]) -> None:
    if hook not in CURRENCY_CHANGE_HOOKS:
        CURRENCY_CHANGE_HOOKS.append(hook)


def currency_locked(merchant: Merchant) -> bool:
    """True once the merchant has money in its history (purchases): amounts already
    recorded in one currency would be read in another."""
    return any(check(merchant) for check in CURRENCY_LOCKS)


@transaction.atomic
def merchant_update_profile(
    *, merchant: Merchant, name: str, slug: str, country: str, currency: str, time_zone: str
) -> Merchant:
    """Change the business profile. A new slug keeps the old one as an alias (old QR
    codes redirect); taking back one of its own old slugs drops that alias. The
    currency only changes while nothing has been bought."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    slug = slugs.validate(slug, merchant=merchant)
    currency = currency.upper()
    old_currency = merchant.currency
    if currency != old_currency and currency_locked(merchant):
        raise MerchantError(
            _(
                "The currency can't be changed: your customers already have purchases in %(currency)s, and their "
                "bills and points would be read in the new currency. Contact support if you really need this."
            )
            % {"currency": merchant.currency},
            field="currency",
        )
    old_slug = merchant.slug
    before = audit.snapshot(merchant)
    merchant.name = name.strip()
    merchant.slug = slug
    merchant.country = country.upper()
    merchant.currency = currency
    merchant.time_zone = time_zone
    if currency != old_currency and merchant.till_max_bill == default_amount(DEFAULT_TILL_MAX_BILL, old_currency):
        # Still the default: the new currency's default (100,000 RUB is 1,000 USD, not 100,000).
        merchant.till_max_bill = default_amount(DEFAULT_TILL_MAX_BILL, currency)
    merchant.full_clean()
    if slug != old_slug:
        MerchantSlugAlias.objects.for_merchant(merchant).filter(slug=slug).delete()
        MerchantSlugAlias.objects.create(merchant=merchant, slug=old_slug)
    merchant.save()
    audit.record(action="merchant.profile_changed", target=merchant, **_diff(before, audit.snapshot(merchant)))
    if currency != old_currency:
        for hook in CURRENCY_CHANGE_HOOKS:
            hook(merchant=merchant, old_currency=old_currency)
    return merchant


@transaction.atomic
def merchant_update_safeguards(
    *, merchant: Merchant, customer_retention_years: int | None, adjustment_approval_threshold: int | None, actor
) -> Merchant:
    """The owner's safeguards: the retention period of inactive customers' personal data and
    the approval threshold of balance corrections (None turns either off). Audited with the
    values before and after; an unchanged save records nothing."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    before = audit.snapshot(merchant)
    merchant.customer_retention_years = customer_retention_years
    merchant.adjustment_approval_threshold = adjustment_approval_threshold
    merchant.full_clean()
    merchant.save(update_fields=["customer_retention_years", "adjustment_approval_threshold"])
    diff = _diff(before, audit.snapshot(merchant))
    if diff["after"]:
        audit.record(action="merchant.safeguards_changed", actor=actor, target=merchant, **diff)
    return merchant


def _diff(before: dict, after: dict) -> dict:
    changed_before, changed_after = audit.changes(before, after)
    return {"before": changed_before, "after": changed_after}


def location_save(*, location: Location) -> Location:
    location.full_clean()
    location.save()
    return location


def location_set_active(*, location: Location, is_active: bool) -> None:
    """Deactivating keeps the location's history; its API keys stop working
    (api_key_for_secret only accepts keys of active locations) until it is
    activated again."""
    Location.objects.filter(pk=location.pk).update(is_active=is_active)
    location.is_active = is_active


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str

    @property
    def path(self) -> str:
        from django.urls import reverse

        return reverse("invitation_accept", args=[self.token])


@transaction.atomic
def invitation_create(
    *, merchant: Merchant, email: str, role: str, actor: User, now: datetime | None = None, replace: bool = False
) -> IssuedInvitation:
    """Invite ``email``. If an invitation for the address is still open, raise
    InvitationPending unless ``replace``: then the open one is revoked (its link
    stops working) and a new one is issued."""
    now = now or timezone.now()
    email = email.strip().lower()
    if role not in Role.values:
        raise MerchantError(_("Unknown role."), field="role")
    # Whether the address already has a login (with this or another merchant) is not
    # said here: the person decides on the invitation page (join with their password,
    # or set one). Only this merchant's own team is checked.
    if Membership.objects.for_merchant(merchant).filter(user__email=email).exists():
        raise MerchantError(
            _("%(email)s is already in your team. Change their role or activate them in the list.") % {"email": email},
            field="email",
        )
    open_ones = (
        Invitation.objects.for_merchant(merchant)
        .select_for_update()
        .filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True)
    )
    pending = next((i for i in open_ones if i.expires_at > now), None)
    if pending is not None and not replace:
        raise InvitationPending(
            _("%(email)s already has an open invitation. Send it again, or replace it?") % {"email": email},
            invitation=pending,
        )
    open_ones.update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        merchant=merchant,
        email=email,
        role=role,
        token_hash=_sha256(token),
        invited_by=actor,
        created_at=now,
        expires_at=now + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    audit.record(action="staff.invited", actor=actor, target=invitation, after={"email": email, "role": role})
    return IssuedInvitation(invitation=invitation, token=token)


@transaction.atomic
def invitation_resend(*, merchant: Merchant, invitation: Invitation, now: datetime | None = None) -> IssuedInvitation:
    """A fresh link for an open invitation (same address and role), valid for
    the full period again. Only a hash of the link is kept, so the old link is
    replaced: it stops working."""
    now = now or timezone.now()
    locked = (
        Invitation.objects.for_merchant(merchant)
        .select_for_update()
        .filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if locked is None:
        raise MerchantError(_("This invitation is no longer pending."))
    token = secrets.token_urlsafe(32)
    locked.token_hash = _sha256(token)
    locked.expires_at = now + timedelta(hours=settings.INVITATION_TTL_HOURS)
    locked.save(update_fields=["token_hash", "expires_at"])
    return IssuedInvitation(invitation=locked, token=token)


def invitation_revoke(*, merchant: Merchant, invitation: Invitation, now: datetime | None = None) -> None:
    now = now or timezone.now()
    updated = (
        Invitation.objects.for_merchant(merchant)
        .filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True)
        .update(revoked_at=now)
    )
    if not updated:
        raise MerchantError(_("This invitation is no longer pending."))
    audit.record(action="staff.invitation_revoked", target=invitation, after={"email": invitation.email})


def invitation_send_email(*, issued: IssuedInvitation) -> bool:
    """E-mail the invitation link; False if the mail could not be handed to the
    mail server (the dashboard then shows the link to pass on by hand). The
    token is never logged."""
    invitation = issued.invitation
    context = {
        "merchant": invitation.merchant,
        "role": invitation.get_role_display(),
        "link": settings.PUBLIC_BASE_URL + issued.path,
        "expires_at": invitation.expires_at,
        "invited_by": invitation.invited_by,
    }
    subject = render_to_string("merchants/email/invitation_subject.txt", context).strip()
    body = render_to_string("merchants/email/invitation_body.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("Invitation %s e-mail to %s failed: %s", invitation.pk, invitation.email, type(exc).__name__)
        return False
    return True


def invitation_for_token(token: str, *, now: datetime | None = None) -> Invitation:
    """The pending invitation behind a token, or InvitationInvalid saying why not."""
    now = now or timezone.now()
    invitation = Invitation.objects.select_related("merchant").filter(token_hash=_sha256(token)).first()
    if invitation is None or invitation.revoked_at is not None:
        raise InvitationInvalid(_("This invitation link is not valid. Ask your manager for a new one."))
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation has already been used. Log in with your e-mail and password."))
    if invitation.expires_at <= now:
        raise InvitationInvalid(_("This invitation has expired. Ask your manager for a new one."))
    return invitation


def _locked_pending_invitation(token: str, now: datetime) -> Invitation:
    invitation = invitation_for_token(token, now=now)
    # Lock the invitation so that two tabs accepting at once use it once.
    invitation = Invitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation has already been used. Log in with your e-mail and password."))
    return invitation


def invitation_has_account(invitation: Invitation) -> bool:
    """Whether the invited address already has a login (shown only to the invitee, who
    holds the link, so they are asked for their password instead of a new one)."""
    return User.objects.filter(email=invitation.email).exists()


@transaction.atomic
def invitation_accept(*, token: str, password: str, full_name: str = "", now: datetime | None = None) -> User:
    """A new login for the invited address, in the inviting merchant's team."""
    now = now or timezone.now()
    invitation = _locked_pending_invitation(token, now)
    if User.objects.filter(email=invitation.email).exists():
        raise InvitationInvalid(_("A user with this e-mail already exists."))
    user = User(email=invitation.email, full_name=full_name)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    Membership.objects.create(user=user, merchant=invitation.merchant, role=invitation.role, created_at=now)
    invitation.accepted_at = now
    invitation.save(update_fields=["accepted_at"])
    return user


@transaction.atomic
def invitation_join(*, token: str, user: User, now: datetime | None = None) -> Membership:
    """An existing login joins the inviting merchant's team (one login, several merchants).
    The caller has authenticated ``user`` (their session or their password)."""
    now = now or timezone.now()
    invitation = _locked_pending_invitation(token, now)
    if user.email != invitation.email:
        raise InvitationInvalid(_("This invitation is for another e-mail address."))
    if user.is_staff or user.is_superuser:
        raise InvitationInvalid(_("Platform staff cannot join a business team. Use another e-mail address."))
    membership, created = Membership.objects.select_for_update().get_or_create(
        user=user, merchant=invitation.merchant, defaults={"role": invitation.role, "created_at": now}
    )
    if not created:
        membership.role, membership.is_active = invitation.role, True
        membership.save(update_fields=["role", "is_active"])
    invitation.accepted_at = now
    invitation.save(update_fields=["accepted_at"])
    return membership


def _membership(merchant: Merchant, user: User) -> Membership:
    membership = Membership.objects.for_merchant(merchant).select_for_update().filter(user=user).first()
    if membership is None:
        raise MerchantError(_("Unknown staff member."))
    return membership


def _other_active_owner(merchant: Merchant, user: User) -> bool:
    # Lock the merchant's owners so that two owners demoting or deactivating each
    # other at once cannot both succeed.
    owners = list(Membership.objects.for_merchant(merchant).select_for_update().filter(role=Role.OWNER).order_by("pk"))
    return any(o.is_active and o.user_id != user.pk for o in owners)


@transaction.atomic
def staff_deactivate(*, merchant: Merchant, user: User, actor: User) -> Membership:
    """Take ``user`` off this merchant's team (their login still works for their other
    merchants, if any)."""
    if user.pk == actor.pk:
        raise MerchantError(_("You cannot deactivate yourself."))
    has_other_owner = _other_active_owner(merchant, user)  # owners first, as in staff_change_role
    membership = _membership(merchant, user)
    if membership.role == Role.OWNER and not has_other_owner:
        raise MerchantError(_("A merchant must keep at least one active owner."))
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    audit.record(
        action="staff.removed",
        merchant=merchant,
        actor=actor,
        target=user,
        before={"is_active": True},
        after={"is_active": False},
    )
    return membership


@transaction.atomic
def staff_change_role(*, merchant: Merchant, user: User, role: str) -> Membership:
    """Give a staff member another role here. The merchant always keeps an active owner."""
    if role not in Role.values:
        raise MerchantError(_("Unknown role."), field="role")
    has_other_owner = _other_active_owner(merchant, user)
    membership = _membership(merchant, user)
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and membership.is_active and not has_other_owner:
        raise MerchantError(
            _("%(email)s is the only active owner. Make someone else an owner first.") % {"email": user.email},
            field="role",
        )
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        action="staff.role_changed", merchant=merchant, target=user, before={"role": old_role}, after={"role": role}
    )
    return membership


@transaction.atomic
def staff_reactivate(*, merchant: Merchant, user: User) -> Membership:
    membership = _membership(merchant, user)
    membership.is_active = True
    membership.save(update_fields=["is_active"])
    audit.record(
        action="staff.reactivated",
        merchant=merchant,
        target=user,
        before={"is_active": False},
        after={"is_active": True},
    )
    return membership


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str


@transaction.atomic
def api_key_create(*, merchant: Merchant, location: Location, name: str, actor: User | None) -> IssuedApiKey:
    if location.merchant_id != merchant.pk:
        raise MerchantError(_("Unknown location."), field="location")
    if not location.is_active:
        raise MerchantError(_("This location is deactivated."), field="location")
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        merchant=merchant,
        location=location,
        name=name.strip() or location.name,
        prefix=prefix,
        key_hash=_sha256(secret),
        created_by=actor,
    )
    audit.record(
        action="api_key.created",
        actor=actor,
        target=api_key,
        after={"name": api_key.name, "prefix": prefix, "location_id": location.pk},
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, now: datetime | None = None, actor: User | None = None) -> bool:
    """Revoke the key; False if it already was."""
    now = now or timezone.now()
    if not ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now):
        return False
    audit.record(action="api_key.revoked", actor=actor, target=api_key, after={"revoked_at": now})
    return True


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key matching ``secret``, compared in constant time, or None."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    prefix, _sep, _rest = secret[len(API_KEY_PREFIX) :].partition("_")
    api_key = (
        ApiKey.objects.select_related("merchant", "location")
        .filter(prefix=prefix, revoked_at__isnull=True, merchant__is_active=True, location__is_active=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _sha256(secret)):
        return None
    return api_key


def api_key_touch(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record use, at most once a minute per key, so hot keys don't write on every call."""
    now = now or timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


# Getting started -----------------------------------------------------------

ONBOARDING_MARKS = ("poster", "web_card_only")


def onboarding_mark(*, merchant: Merchant, key: str, on: bool = True, now: datetime | None = None) -> None:
    """Record (or, with ``on=False``, withdraw) a getting-started mark. Recording
    twice keeps the first time."""
    if key not in ONBOARDING_MARKS:
        raise ValueError(f"unknown onboarding mark {key!r}")
    if on:
        OnboardingMark.objects.get_or_create(
            merchant=merchant, key=key, defaults={"recorded_at": now or timezone.now()}
        )
    else:
        OnboardingMark.objects.for_merchant(merchant).filter(key=key).delete()


# Password reset ---------------------------------------------------------------


def password_reset_send(*, email: str) -> int:
    """E-mail a reset link to the active user with this e-mail, if there is one;
    the number of e-mails sent (0 or 1). Runs in a task, so that the page answers
    alike, and as fast, whether or not the address belongs to anyone."""
    form = PasswordResetForm({"email": email.strip().lower()})
    if not form.is_valid():
        return 0
    base = urlsplit(settings.PUBLIC_BASE_URL)
    sent = len(list(form.get_users(form.cleaned_data["email"])))
    form.save(
        domain_override=base.netloc,
        use_https=base.scheme == "https",
        subject_template_name="registration/password_reset_subject.txt",
        email_template_name="registration/password_reset_email.txt",
        extra_email_context={"base_url": settings.PUBLIC_BASE_URL},
    )
    return sent
