import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from merchants import services
from merchants.models import Invitation, Role, User
from tests.merchants.helpers import login, membership, password_login, snapshot

PASSWORD = "quiet-harbour-lamp-7"


def invite(client, email="cashier@new.test", role="cashier"):
    return client.post(reverse("invitation_create"), {"email": email, "role": role})


def accept(client, token, password=PASSWORD, password2=None, full_name="Иван Петров"):
    return client.post(
        reverse("invitation_accept", args=[token]),
        {"full_name": full_name, "password1": password, "password2": password2 or password},
    )


def token_from_mail() -> str:
    match = re.search(r"/invite/([^/\s]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.fixture
def issued(merchant, owner):
    return services.invitation_create(merchant=merchant, email="new@zerno.test", role=Role.CASHIER, actor=owner)


def test_owner_invites_by_email_and_sees_the_link_once(client, owner, merchant, settings):
    settings.PUBLIC_BASE_URL = "https://loyalty.example"
    login(client, owner)

    response = invite(client, email="Cashier@New.Test")

    assert response.status_code == 302 and response["Location"] == reverse("staff_list")
    invitation = Invitation.objects.get()
    assert (invitation.merchant, invitation.email, invitation.role) == (merchant, "cashier@new.test", "cashier")
    assert invitation.invited_by == owner
    # The e-mail carries the absolute link.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["cashier@new.test"]
    assert merchant.name in message.subject
    token = token_from_mail()
    link = f"https://loyalty.example/invite/{token}/"
    assert link in message.body
    # The page after the redirect shows the same link, once.
    page = client.get(reverse("staff_list"))
    assert link in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    again = client.get(reverse("staff_list"))
    assert token not in again.content.decode()
    assert "cashier@new.test" in again.content.decode()  # still listed as pending
    # Only a hash of the token is stored.
    assert token not in str(list(Invitation.objects.values_list()))


def test_link_is_shown_when_the_email_cannot_be_sent(client, owner, settings):
    # A real SMTP client against a port where nothing listens: the send fails.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    login(client, owner)

    invite(client)

    page = client.get(reverse("staff_list")).content.decode()
    assert "Не удалось отправить письмо" in page
    assert "/invite/" in page
    assert Invitation.objects.count() == 1


def test_inviting_someone_already_in_the_team_is_refused_and_changes_nothing(client, owner, cashier):
    login(client, owner)
    before = snapshot()

    response = invite(client, email=cashier.email.upper())

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "cashier@zerno.test уже в вашей команде. Измените роль или активируйте сотрудника в списке."
    ]
    assert snapshot() == before
    assert mail.outbox == []


def test_invitation_form_rejects_bad_email_and_unknown_role(client, owner):
    login(client, owner)
    before = snapshot()
    response = invite(client, email="nope", role="admin")
    errors = response.context["form"].errors
    assert "email" in errors and "role" in errors
    assert snapshot() == before


def test_accept_page_shows_merchant_and_role(client, issued, merchant):
    response = client.get(reverse("invitation_accept", args=[issued.token]))
    html = response.content.decode()
    assert response.status_code == 200
    assert merchant.name in html and "Кассир" in html and "new@zerno.test" in html


def test_accepting_creates_the_account_and_logs_in(client, issued, merchant):
    response = accept(client, issued.token)

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    user = User.objects.get(email="new@zerno.test")
    assert [(m.merchant, m.role) for m in user.memberships.all()] == [(merchant, "cashier")]
    assert user.full_name == "Иван Петров"
    assert user.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    issued.invitation.refresh_from_db()
    assert issued.invitation.accepted_at is not None
    assert client.get(reverse("dashboard")).status_code == 200


def test_reused_link_gets_a_clear_message_and_changes_nothing(client, issued):
    accept(client, issued.token)
    client.logout()
    before = snapshot()

    page = client.get(reverse("invitation_accept", args=[issued.token]))
    response = accept(client, issued.token, password="another-pass-phrase-9")

    for r in (page, response):
        assert r.status_code == 410
        assert "Это приглашение уже использовано" in r.content.decode()
    assert snapshot() == before
    assert User.objects.get(email="new@zerno.test").check_password(PASSWORD)


def test_expired_link_gets_a_clear_message_and_changes_nothing(client, issued):
    before = snapshot()
    later = timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS, minutes=1)

    with time_machine.travel(later):
        page = client.get(reverse("invitation_accept", args=[issued.token]))
        response = accept(client, issued.token)

    for r in (page, response):
        assert r.status_code == 410
        assert "Срок действия приглашения истёк" in r.content.decode()
    assert snapshot() == before


def test_link_still_works_just_before_it_expires(client, issued):
    with time_machine.travel(issued.invitation.expires_at - timedelta(minutes=1)):
        assert accept(client, issued.token).status_code == 302


def test_revoked_link_gets_a_clear_message_and_changes_nothing(client, owner, issued):
    login(client, owner)
    assert client.post(reverse("invitation_revoke", args=[issued.invitation.pk])).status_code == 302
    issued.invitation.refresh_from_db()
    assert issued.invitation.revoked_at is not None
    client.logout()
    before = snapshot()

    response = accept(client, issued.token)

    assert response.status_code == 410
    assert "Ссылка-приглашение недействительна" in response.content.decode()
    assert snapshot() == before


def test_unknown_token_gets_a_clear_message(client, db):
    response = client.get(reverse("invitation_accept", args=["made-up-token"]))
    assert response.status_code == 410
    assert "Ссылка-приглашение недействительна" in response.content.decode()


@pytest.mark.parametrize(
    ("password", "password2", "field", "message"),
    [
        ("short", None, "password1", "слишком короткий"),
        (PASSWORD, "not-the-same-one", "password2", "Пароли не совпадают"),
    ],
)
def test_bad_password_on_accept_changes_nothing(client, issued, password, password2, field, message):
    before = snapshot()
    response = accept(client, issued.token, password=password, password2=password2)
    assert response.status_code == 200
    assert any(message in str(e) for e in response.context["form"].errors[field])
    assert snapshot() == before


def test_new_invitation_for_same_address_replaces_the_pending_one(client, owner, issued):
    login(client, owner)
    # Issue 12: the page asks first; the owner answers "replace".
    assert invite(client, email="new@zerno.test", role="marketer").status_code == 409
    client.post(reverse("invitation_create"), {"email": "new@zerno.test", "role": "marketer", "on_pending": "replace"})
    issued.invitation.refresh_from_db()
    assert issued.invitation.revoked_at is not None
    assert accept(client, issued.token).status_code == 410


def test_revoking_an_accepted_invitation_says_so(client, owner, issued):
    accept(client, issued.token)
    login(client, owner)
    response = client.post(reverse("invitation_revoke", args=[issued.invitation.pk]), follow=True)
    assert "Это приглашение уже не ожидает ответа" in response.content.decode()


def test_owner_deactivates_and_reactivates_staff(client, merchant, owner, cashier):
    login(client, owner)
    other = client.__class__()
    assert password_login(other, cashier.email, "correct-horse-battery")
    assert other.get(reverse("till")).status_code == 200

    client.post(reverse("staff_deactivate", args=[cashier.pk]))
    assert not membership(cashier, merchant).is_active
    # The merchant is out of reach at once, in the session already open too. The login
    # itself stays (it may serve other merchants) but opens nothing of this one.
    assert other.get(reverse("till")).status_code == 403
    fresh = client.__class__()
    assert password_login(fresh, cashier.email, "correct-horse-battery")
    assert fresh.get(reverse("till")).status_code == 403

    client.post(reverse("staff_activate", args=[cashier.pk]))
    assert membership(cashier, merchant).is_active
    assert other.get(reverse("till")).status_code == 200


def test_owner_cannot_deactivate_themselves(client, owner):
    login(client, owner)
    response = client.post(reverse("staff_deactivate", args=[owner.pk]), follow=True)
    owner.refresh_from_db()
    assert owner.is_active
    assert "Нельзя деактивировать самого себя" in response.content.decode()


def test_staff_list_shows_staff_and_pending_invitations(client, owner, cashier, issued):
    login(client, owner)
    html = client.get(reverse("staff_list")).content.decode()
    assert cashier.email in html and "new@zerno.test" in html
