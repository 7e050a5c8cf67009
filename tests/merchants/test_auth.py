import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _fresh_limits():
    # The password-reset limits count in the process-wide cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def post_reset(client, django_capture_on_commit_callbacks, monkeypatch):
    """Ask for a reset link and run the e-mail task the page queued (eagerly, as a worker would)."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)

    def post(email: str, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("password_reset"), {"email": email}, **kwargs)

    return post


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


def test_password_reset_sends_an_email_whose_link_works(client, owner, settings, post_reset):
    settings.PUBLIC_BASE_URL = "https://loyalty.example"

    response = post_reset("Owner@Zerno.test")

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


def test_password_reset_in_english(client, owner, post_reset):
    post_reset(owner.email, headers={"accept-language": "en"})
    assert mail.outbox[0].subject == "Reset your password"
    assert "To set a new password, open this link:" in mail.outbox[0].body


def test_password_reset_for_unknown_address_sends_nothing_and_says_the_same(client, owner, post_reset):
    unknown = post_reset("nobody@nowhere.test")
    assert mail.outbox == []
    known = post_reset(owner.email)
    assert len(mail.outbox) == 1
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert unknown["Location"] == reverse("password_reset_done")
    assert unknown.content == known.content


def test_the_reset_page_does_the_same_work_for_known_and_unknown_addresses(
    client, owner, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # No user lookup and no mail in the request itself (the work that would take longer for a known
    # address): the same queries and one queued task either way; the task does the rest.
    for email in ("nobody@nowhere.test", owner.email):
        with django_capture_on_commit_callbacks() as queued, django_assert_num_queries(0):
            client.post(reverse("password_reset"), {"email": email})
        assert len(queued) == 1
    assert mail.outbox == []


def test_password_reset_is_limited_per_account_whether_or_not_it_exists(
    client, owner, post_reset, settings, one_rate_limit_window
):
    for email in (owner.email, "nobody@nowhere.test"):
        answers = [post_reset(email, REMOTE_ADDR=f"10.0.0.{i}").status_code for i in range(4)]
        assert answers == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_password_reset_is_limited_per_address_behind_the_proxy(
    client, db, post_reset, settings, one_rate_limit_window
):
    settings.BEHIND_HTTPS_PROXY = True
    answers = [
        post_reset(f"someone{i}@nowhere.test", HTTP_X_FORWARDED_FOR=f"203.0.113.9, 10.9.9.{i}").status_code
        for i in range(11)
    ]
    # Each request came from another client address (the hop our proxy appended): none is limited.
    assert set(answers) == {302}
    same = [
        post_reset(f"again{i}@nowhere.test", HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 198.51.100.7").status_code
        for i in range(11)
    ]
    assert same == [302] * 10 + [429]
    page = post_reset("late@nowhere.test", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert "Слишком много запросов" in page.content.decode()


def test_weak_new_password_is_refused(client, owner, post_reset):
    post_reset(owner.email)
    link = re.search(r"(/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert "слишком короткий" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
