import pytest
from django.urls import reverse

from merchants.models import Merchant, Role, User
from tests.merchants.helpers import snapshot

GOOD = {
    "business_name": "Кофейня «Утро»",
    "country": "RU",
    "currency": "RUB",
    "time_zone": "Europe/Moscow",
    "full_name": "Анна Смирнова",
    "email": "Anna@Utro.Test",
    "password1": "pale-lantern-orbit-42",
    "password2": "pale-lantern-orbit-42",
}


def post(client, **changes):
    return client.post(reverse("signup"), {**GOOD, **changes})


def field_errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


@pytest.mark.django_db
def test_sign_up_creates_merchant_and_owner_and_logs_in(client):
    response = post(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    merchant = Merchant.objects.get()
    assert (merchant.name, merchant.country, merchant.currency, merchant.time_zone) == (
        "Кофейня «Утро»",
        "RU",
        "RUB",
        "Europe/Moscow",
    )
    owner = User.objects.get()
    assert owner.email == "anna@utro.test"
    assert owner.full_name == "Анна Смирнова"
    assert [(m.merchant, m.role, m.is_active) for m in owner.memberships.all()] == [(merchant, Role.OWNER, True)]
    assert owner.check_password(GOOD["password1"])
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert "Кофейня «Утро»" in dashboard.content.decode()


@pytest.mark.django_db
def test_sign_up_page_defaults_to_russia_rouble_and_moscow(client):
    response = client.get(reverse("signup"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="RU" selected>Россия</option>' in html
    assert '<option value="RUB" selected>RUB — российский рубль</option>' in html
    assert '<option value="Europe/Moscow" selected>' in html


@pytest.mark.django_db
def test_sign_up_page_names_countries_in_english_when_english_is_active(client):
    response = client.get(reverse("signup"), headers={"accept-language": "en"})
    assert '<option value="RU" selected>Russia</option>' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password1": "short", "password2": "short"}, "password1", "Введённый пароль слишком короткий"),
        ({"password1": "1234567890123", "password2": "1234567890123"}, "password1", "состоит только из цифр"),
        ({"password1": "password123", "password2": "password123"}, "password1", "слишком широко распространён"),
        ({"password2": "something-else-entirely"}, "password2", "Пароли не совпадают"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Неизвестный часовой пояс: Mars/Olympus_Mons"),
        ({"country": "XX"}, "country", "Выберите корректный вариант"),
        ({"currency": "ZZZ"}, "currency", "Выберите корректный вариант"),
        ({"business_name": "   "}, "business_name", "Обязательное поле"),
        ({"email": "not-an-email"}, "email", "Введите правильный адрес электронной почты"),
    ],
)
def test_bad_sign_up_input_shows_message_next_to_field_and_creates_nothing(client, changes, field, message):
    before = snapshot()

    response = post(client, **changes)

    assert response.status_code == 200
    errors = field_errors(response, field)
    assert any(message in e for e in errors), errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert snapshot() == before
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_duplicate_email_in_any_case_is_refused_and_creates_nothing(client, owner):
    before = snapshot()

    response = post(client, email=owner.email.upper())

    assert response.status_code == 200
    assert any("уже существует" in e for e in field_errors(response, "email"))
    assert snapshot() == before


@pytest.mark.django_db
def test_service_recheck_of_duplicate_email_is_shown_on_the_form(client, owner, monkeypatch):
    # Another sign-up may take the address between the form's check and the
    # write; the service's own check then speaks through the same field.
    from merchants import forms

    monkeypatch.setattr(forms.SignUpForm, "clean_email", lambda self: self.cleaned_data["email"].lower())
    before = snapshot()

    response = post(client, email=owner.email)

    assert response.status_code == 200
    assert field_errors(response, "email") == ["Пользователь с таким e-mail уже существует."]
    assert snapshot() == before


@pytest.mark.django_db
def test_password_similar_to_email_is_refused(client):
    response = post(client, email="orbitlantern@utro.test", password1="orbitlantern", password2="orbitlantern")
    assert any("похож" in e for e in field_errors(response, "password1"))
    assert not User.objects.exists()


@pytest.mark.django_db
def test_logged_in_staff_visiting_sign_up_go_to_their_dashboard(client, owner):
    client.force_login(owner)
    assert client.get(reverse("signup"))["Location"] == reverse("dashboard")
