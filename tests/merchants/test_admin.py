import pytest
from django.urls import reverse

from merchants import services
from merchants.models import ApiKey, Invitation, Location, Merchant, User
from tests.factories import PASSWORD, UserFactory
from tests.merchants.helpers import login


@pytest.fixture
def support(db):
    return UserFactory(email="support@platform.test", merchant=None, role="", is_staff=True, is_superuser=True)


@pytest.fixture
def support_client(client, support):
    login(client, support)
    return client


@pytest.fixture
def everything(merchant, location, owner):
    invitation = services.invitation_create(merchant=merchant, email="inv@zerno.test", role="cashier", actor=owner)
    api_key = services.api_key_create(merchant=merchant, location=location, name="Касса", actor=owner)
    return {
        Merchant: merchant,
        Location: location,
        User: owner,
        Invitation: invitation.invitation,
        ApiKey: api_key.api_key,
        "token": invitation.token,
        "secret": api_key.secret,
    }


MODELS = [Merchant, Location, User, Invitation, ApiKey]


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_support_staff_open_changelist_search_and_change_page(support_client, everything, model):
    obj = everything[model]
    changelist = support_client.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200
    assert support_client.get(admin_url(model, "changelist"), {"q": "zerno"}).status_code == 200
    change = support_client.get(admin_url(model, "change", obj.pk))
    assert change.status_code == 200
    # Secrets never appear: not the token, not the API key, not their hashes.
    for html in (changelist.content.decode(), change.content.decode()):
        assert everything["token"] not in html
        assert everything["secret"] not in html
        assert everything[Invitation].token_hash not in html
        assert everything[ApiKey].key_hash not in html


def test_support_can_open_the_password_change_form(support_client, everything):
    url = reverse("admin:auth_user_password_change", args=[everything[User].pk])
    assert support_client.get(url).status_code == 200


def test_admin_filters_work(support_client, everything):
    assert (
        support_client.get(admin_url(Merchant, "changelist"), {"country": "RU", "is_active__exact": "1"}).status_code
        == 200
    )
    assert (
        support_client.get(
            admin_url(User, "changelist"), {"memberships__role": "owner", "is_staff__exact": "0"}
        ).status_code
        == 200
    )
    response = support_client.get(admin_url(User, "changelist"), {"q": "Зерно"})
    assert everything[User].email in response.content.decode()


def test_merchant_change_page_shows_its_locations_inline(support_client, everything):
    html = support_client.get(admin_url(Merchant, "change", everything[Merchant].pk)).content.decode()
    assert everything[Location].name in html and "locations-TOTAL_FORMS" in html


@pytest.mark.parametrize("user_fixture", ["owner", "marketer", "cashier"])
def test_merchant_staff_are_refused_by_admin(client, request, everything, user_fixture):
    user = request.getfixturevalue(user_fixture)
    login(client, user)
    for url in [reverse("admin:index"), admin_url(Merchant, "changelist"), admin_url(ApiKey, "changelist")]:
        response = client.get(url)
        assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    # Nor can they log in through the admin's form.
    client.logout()
    response = client.post(reverse("admin:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_making_merchant_staff_platform_staff_is_a_clean_form_error(support_client, everything):
    owner = everything[User]
    data = {
        "email": owner.email,
        "full_name": owner.full_name,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = support_client.post(admin_url(User, "change", owner.pk), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "is_staff" in errors and "не может быть сотрудником платформы" in errors["is_staff"][0]
    owner.refresh_from_db()
    assert not owner.is_staff


def test_support_creates_a_platform_staff_user_and_a_merchant_user(support_client, merchant):
    base = {"usable_password": "true", "password1": "long-enough-pass-1", "password2": "long-enough-pass-1"}
    response = support_client.post(admin_url(User, "add"), {**base, "email": "Helper@Platform.test", "is_staff": "on"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    helper = User.objects.get(email="helper@platform.test")
    assert helper.is_staff and not helper.memberships.exists()

    response = support_client.post(admin_url(User, "add"), {**base, "email": "x@zerno.test", "merchant": merchant.pk})
    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    response = support_client.post(
        admin_url(User, "add"),
        {**base, "email": "x@zerno.test", "merchant": merchant.pk, "role": "owner", "is_staff": "on"},
    )
    assert "is_staff" in response.context["adminform"].form.errors
    assert not User.objects.filter(email="x@zerno.test").exists()
    # A merchant user: the login and its first membership.
    response = support_client.post(
        admin_url(User, "add"), {**base, "email": "x@zerno.test", "merchant": merchant.pk, "role": "cashier"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    made = User.objects.get(email="x@zerno.test")
    assert [(m.merchant, m.role) for m in made.memberships.all()] == [(merchant, "cashier")] and not made.is_staff


def test_api_key_and_invitation_cannot_be_added_in_admin(support_client):
    assert support_client.get(admin_url(ApiKey, "add")).status_code == 403
    assert support_client.get(admin_url(Invitation, "add")).status_code == 403


def test_revoke_action_revokes_keys(support_client, everything, merchant, location, owner):
    second = services.api_key_create(merchant=merchant, location=location, name="Вторая", actor=owner)
    keys = [everything[ApiKey], second.api_key]
    response = support_client.post(
        admin_url(ApiKey, "changelist"),
        {"action": "revoke", "_selected_action": [k.pk for k in keys]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Отозвано 2 API-ключа." in response.content.decode()
    for key in keys:
        key.refresh_from_db()
        assert key.revoked_at is not None
    assert services.api_key_for_secret(everything["secret"]) is None


def test_revoke_action_needs_change_permission(client, everything):
    viewer = UserFactory(email="viewer@platform.test", merchant=None, role="", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    login(client, viewer)
    changelist = client.get(admin_url(ApiKey, "changelist"))
    assert changelist.status_code == 200
    assert 'value="revoke"' not in changelist.content.decode()
    client.post(admin_url(ApiKey, "changelist"), {"action": "revoke", "_selected_action": [everything[ApiKey].pk]})
    everything[ApiKey].refresh_from_db()
    assert everything[ApiKey].revoked_at is None


def test_revoke_invitations_action(support_client, everything):
    support_client.post(
        admin_url(Invitation, "changelist"), {"action": "revoke", "_selected_action": [everything[Invitation].pk]}
    )
    everything[Invitation].refresh_from_db()
    assert everything[Invitation].revoked_at is not None


def _user_change_data(user, *, memberships=(), **extra):
    """The user change form as the admin posts it, with its team table (``memberships``: new rows)."""
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, (merchant, role) in enumerate(memberships):
        data.update(
            {
                f"memberships-{index}-merchant": str(merchant.pk),
                f"memberships-{index}-role": role,
                f"memberships-{index}-is_active": "on",
                f"memberships-{index}-user": str(user.pk),
            }
        )
    if user.is_staff:
        data["is_staff"] = "on"
    return data


def _inline_errors(response) -> list[str]:
    formsets = [inline.formset for inline in response.context["inline_admin_formsets"]]
    return [str(e) for formset in formsets for e in formset.non_form_errors()] + [
        str(e)
        for formset in formsets
        for form_errors in formset.errors
        for errors in form_errors.values()
        for e in errors
    ]


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Platform staff cannot belong to a merchant's team"), ("ru", "Сотрудник платформы не может")],
)
def test_admin_refuses_a_team_membership_for_platform_staff(client, support, merchant, language, expected):
    login(client, support)
    helper = UserFactory(email="helper@platform.test", merchant=None, role="", is_staff=True)
    response = client.post(
        admin_url(User, "change", helper.pk),
        _user_change_data(helper, memberships=[(merchant, "owner")]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 200  # the page again, with the error; nothing saved
    assert any(expected in e for e in _inline_errors(response)), _inline_errors(response)
    assert not helper.memberships.exists()
    helper.refresh_from_db()
    assert helper.is_staff


def test_admin_refuses_ticking_platform_staff_and_adding_a_team_in_one_save(support_client, merchant):
    person = UserFactory(email="person@zerno.test", merchant=None, role="")
    data = _user_change_data(person, memberships=[(merchant, "cashier")], is_staff="on")
    response = support_client.post(admin_url(User, "change", person.pk), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert any("Platform staff cannot belong" in e for e in _inline_errors(response))
    person.refresh_from_db()
    assert not person.is_staff and not person.memberships.exists()
    # Without the tick the same team row is saved: the refusal is about platform staff only.
    data.pop("is_staff")
    response = support_client.post(admin_url(User, "change", person.pk), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert [(m.merchant, m.role) for m in person.memberships.all()] == [(merchant, "cashier")]
