"""Issue 12: the getting-started checklist on the dashboard home tells the truth.
It says "you are all set" only when the program is saved, the card design
published, the wallets connected (or the owner chose the web card only), the QR
poster opened and a cashier invited; the first campaign is an optional step, done by a sent
campaign or a switched-on automation."""

import re

import pytest
from django.urls import reverse

from loyalty.design.services import draft_for, publish
from loyalty.program.services import save_program
from merchants import services
from merchants.models import OnboardingMark, Role
from tests.merchants.helpers import login

pytestmark = pytest.mark.django_db


def steps(client, language="en"):
    """{step key: done?} and the page, as the owner sees them."""
    page = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    return {key: bool(done) for done, key in re.findall(r'<li class="(done)?[^"]*" data-step="([a-z_]+)"', page)}, page


def test_a_new_merchant_is_not_all_set(client, merchant, owner, location):
    login(client, owner)
    done, page = steps(client)
    assert list(done) == ["location", "program", "design", "wallet", "poster", "cashier", "api_key", "campaign"]
    assert done == {key: key == "location" for key in done}
    assert "Getting started" in page and "You are all set" not in page
    assert "5 steps left before customers can join." in page
    assert "coming soon" not in page
    assert re.search(r'data-step="campaign".*?href="/dashboard/campaigns/"', page, re.S)


def test_each_step_is_done_by_the_real_thing(client, merchant, owner, location):
    login(client, owner)
    save_program(merchant=merchant, actor=owner, welcome_bonus=50)
    assert steps(client)[0]["program"]

    draft_for(merchant=merchant, actor=owner)
    publish(merchant=merchant, actor=owner)
    assert steps(client)[0]["design"]

    # The honest choice: no wallets, the web card only. Stored, and can be taken back.
    client.post(reverse("onboarding_web_card_only"), {"choice": "web"})
    done, page = steps(client)
    assert done["wallet"] and "Your choice: web card only." in page
    client.post(reverse("onboarding_web_card_only"), {"choice": "wallets"})
    assert not steps(client)[0]["wallet"]
    client.post(reverse("onboarding_web_card_only"), {"choice": "web"})

    # Downloading the QR code (or opening the print poster) is recorded once.
    assert client.get(reverse("enroll_qr_png")).status_code == 200
    done, page = steps(client)
    assert done["poster"] and "You opened the poster on" in page
    first = OnboardingMark.objects.get(merchant=merchant, key="poster").recorded_at
    client.get(reverse("enroll_poster"))
    assert OnboardingMark.objects.get(merchant=merchant, key="poster").recorded_at == first

    services.invitation_create(merchant=merchant, email="kassa@zerno.test", role=Role.CASHIER, actor=owner)
    done, page = steps(client)
    assert done["cashier"]
    assert not done["api_key"] and not done["campaign"]  # optional: they do not hold it up
    assert "You are all set" in page and "Getting started" not in page


def test_a_marketer_invitation_is_not_a_cashier(client, merchant, owner):
    login(client, owner)
    services.invitation_create(merchant=merchant, email="smm@zerno.test", role=Role.MARKETER, actor=owner)
    assert not steps(client)[0]["cashier"]


def test_the_poster_of_another_merchant_does_not_count(client, merchant, owner, other_merchant, other_owner):
    login(client, other_owner)
    client.get(reverse("enroll_poster"))
    login(client, owner)
    assert not steps(client)[0]["poster"]


def test_russian(client, merchant, owner):
    login(client, owner)
    done, page = steps(client, language="ru")
    assert "С чего начать" in page or "Первые шаги" in page
    assert "Напечатайте QR-постер" in page
    assert "Отправьте первую рассылку" in page and "скоро" not in page


def test_only_the_owner_makes_the_wallet_choice(client, merchant, marketer):
    login(client, marketer)
    assert client.post(reverse("onboarding_web_card_only"), {"choice": "web"}).status_code == 403
    assert not OnboardingMark.objects.exists()


def test_the_campaign_step_is_done_by_a_sent_campaign_or_a_live_automation(client, merchant, owner, other_merchant):
    from campaigns.models import Campaign

    login(client, owner)
    draft = Campaign.objects.create(merchant=merchant, name="Черновик", body="…", channels=["email"])
    automation = Campaign.objects.create(
        merchant=merchant, name="Скучаем", kind="automation", trigger="win_back", body="…", channels=["email"]
    )
    Campaign.objects.create(merchant=other_merchant, name="Чужая", body="…", channels=["email"], status="done")
    assert not steps(client)[0]["campaign"]
    Campaign.objects.filter(pk=automation.pk).update(status="active")
    assert steps(client)[0]["campaign"]
    Campaign.objects.filter(pk=automation.pk).update(status="paused")
    assert not steps(client)[0]["campaign"]
    Campaign.objects.filter(pk=draft.pk).update(status="done")
    done, page = steps(client, language="ru")
    assert done["campaign"] and "Отправьте первую рассылку" in page
