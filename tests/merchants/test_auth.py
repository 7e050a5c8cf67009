import re

from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory


def test_login_with_email_in_any_case(client, owner):
    response = client.post(reverse("login"), {"username": "  OWNER@Zerno.TEST ", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_wrong_password_gets_a_clear_message(client, owner):
    response = client.post(reverse("login"), {"username": owner.email, "password": "nope"})
    assert response.status_code == 200
    assert "Пожалуйста, введите правильные e-mail и пароль" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_deactivated_staff_cannot_log_in(client, cashier):
    cashier.is_active = False
    cashier.save()
    response = client.post(reverse("login"), {"username": cashier.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(client, owner):
    client.force_login(owner)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout"))["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_platform_staff_logging_in_land_in_admin(client, db):
    UserFactory(email="support@platform.test", merchant=None, role="", is_staff=True, is_superuser=True)
    response = client.post(reverse("login"), {"username": "support@platform.test", "password": PASSWORD})
    assert response["Location"] == reverse("admin:index")


def test_password_reset_sends_an_email_whose_link_works(client, owner, settings):
    settings.PUBLIC_BASE_URL = "https://loyalty.example"

    response = client.post(reverse("password_reset"), {"email": "Owner@Zerno.test"})

    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert message.subject == "Сброс пароля"
    link = re.search(r"https://loyalty\.example(/reset/\S+/)", message.body)
    assert link, message.body
    # Django swaps the token in the URL for a session-held one, then shows the form.
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "brand-new-secret-77", "new_password2": "brand-new-secret-77"})
    assert done["Location"] == reverse("password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password("brand-new-secret-77")
    # The link works once.
    client.logout()
    assert not client.get(link.group(1), follow=True).context["validlink"]


def test_password_reset_in_english(client, owner):
    client.post(reverse("password_reset"), {"email": owner.email}, headers={"accept-language": "en"})
    assert mail.outbox[0].subject == "Reset your password"
    assert "To set a new password, open this link:" in mail.outbox[0].body


def test_password_reset_for_unknown_address_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_weak_new_password_is_refused(client, owner):
    client.post(reverse("password_reset"), {"email": owner.email})
    link = re.search(r"(/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert "слишком короткий" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
