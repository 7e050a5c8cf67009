import pytest
from django.urls import reverse

from tests.merchants.helpers import login, snapshot

OWNER_ONLY = [
    ("location_list", []),
    ("location_create", []),
    ("location_edit", ["location"]),
    ("location_deactivate", ["location"]),
    ("location_activate", ["location"]),
    ("staff_list", []),
    ("invitation_create", []),
    ("staff_deactivate", ["owner"]),
    ("staff_activate", ["owner"]),
    ("api_key_list", []),
    ("api_key_create", []),
]


def url_for(request, name, args):
    return reverse(name, args=[request.getfixturevalue(a).pk for a in args])


@pytest.mark.parametrize("role", ["marketer", "cashier"])
@pytest.mark.parametrize(("name", "args"), OWNER_ONLY)
def test_marketers_and_cashiers_get_403_on_owner_pages(client, request, role, name, args):
    login(client, request.getfixturevalue(role))
    url = url_for(request, name, args)
    before = snapshot()

    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "x", "email": "x@x.test", "role": "owner"}).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("role", ["marketer", "cashier"])
def test_api_key_revoke_is_owner_only(client, request, role, merchant, location, owner):
    from merchants import services

    issued = services.api_key_create(merchant=merchant, location=location, name="Till", actor=owner)
    login(client, request.getfixturevalue(role))
    url = reverse("api_key_revoke", args=[issued.api_key.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is None


@pytest.mark.parametrize("role", ["owner", "marketer", "cashier"])
def test_every_role_sees_home(client, request, role, merchant):
    login(client, request.getfixturevalue(role))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert merchant.name in response.content.decode()


MINE = ["dashboard", "merchant_settings"]


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        # Locations, staff and API keys are on the settings hub, not in the top bar.
        ("owner", ["dashboard", "merchant_settings"]),
        ("marketer", ["dashboard"]),
        ("cashier", ["dashboard"]),
    ],
)
def test_navigation_shows_only_what_the_role_may_open(client, request, role, visible):
    login(client, request.getfixturevalue(role))
    urls = [item.url for item in client.get(reverse("dashboard")).context["nav_items"]]
    # Other apps add their own entries; of this app's, exactly the allowed ones show, in order.
    assert [url for url in urls if url in {reverse(n) for n in MINE}] == [reverse(n) for n in visible]
    for url in urls:
        assert client.get(url).status_code == 200, f"{role} is shown {url} but may not open it"


@pytest.mark.parametrize(
    ("page", "section"),
    [
        ("dashboard", "dashboard"),
        ("merchant_settings", "merchant_settings"),
        ("location_list", "merchant_settings"),
        ("location_create", "merchant_settings"),
        ("staff_list", "merchant_settings"),
        ("invitation_create", "merchant_settings"),
        ("api_key_create", "merchant_settings"),
    ],
)
def test_navigation_marks_the_current_section(client, owner, page, section):
    login(client, owner)
    nav = client.get(reverse(page)).context["nav_items"]
    assert [item.url for item in nav if item.active] == [reverse(section)]


def test_home_is_not_active_on_pages_outside_the_menu(client, cashier):
    login(client, cashier)
    response = client.get(reverse("location_list"))  # a 403 page, in the dashboard's layout
    assert response.status_code == 403
    assert not [item for item in response.context["nav_items"] if item.active]


def test_settings_hub_lists_the_pages_the_owner_may_open(client, owner, location):
    login(client, owner)
    response = client.get(reverse("merchant_settings"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("location_list", "staff_list", "api_key_list"):
        assert f'href="{reverse(name)}"' in html
    assert "1 активная точка" in html


@pytest.mark.parametrize("role", ["marketer", "cashier"])
def test_settings_hub_is_not_for_marketers_and_cashiers(client, request, role):
    login(client, request.getfixturevalue(role))
    assert client.get(reverse("merchant_settings")).status_code == 403


def test_owner_opens_every_owner_page(client, owner, location):
    login(client, owner)
    for name in [
        "location_list",
        "location_create",
        "staff_list",
        "invitation_create",
        "api_key_list",
        "api_key_create",
    ]:
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(reverse("location_edit", args=[location.pk])).status_code == 200


def test_platform_staff_without_merchant_get_403_in_dashboard(client, db):
    from merchants.models import User

    admin = User.objects.create_superuser("support@platform.test", "x-long-password-1")
    login(client, admin)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert reverse("admin:index") in response.content.decode()


def test_suspended_merchant_staff_are_refused(client, owner, merchant):
    merchant.is_active = False
    merchant.save()
    login(client, owner)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert "приостановлен" in response.content.decode()


def test_anonymous_users_are_sent_to_login(client, db):
    for name in ["dashboard", "location_list", "staff_list", "api_key_list"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_other_apps_can_add_navigation_entries(client, request, monkeypatch):
    from merchants import navigation
    from merchants.permissions import CAN_SEE_CAMPAIGNS

    monkeypatch.setattr(navigation, "NAV_ITEMS", [i for i in navigation.NAV_ITEMS if i.url_name in MINE])
    # Any named route will do for the test; a real entry points at its own page.
    navigation.register(navigation.NavItem("signup", "Campaigns", CAN_SEE_CAMPAIGNS, order=40))
    seen = {}
    for role in ("owner", "marketer", "cashier"):
        login(client, request.getfixturevalue(role))
        seen[role] = [item.label for item in client.get(reverse("dashboard")).context["nav_items"]]
    assert seen["owner"] == ["Главная", "Campaigns", "Настройки"]
    assert seen["marketer"] == ["Главная", "Campaigns"]
    assert seen["cashier"] == ["Главная"]
