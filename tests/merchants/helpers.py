"""Small helpers shared by the merchant tests."""

from django.forms.models import model_to_dict

from merchants.models import ApiKey, Invitation, Location, Membership, Merchant, User


def snapshot() -> dict:
    """Every row of the merchants app, so a test can prove a bad input changed nothing."""
    return {
        model.__name__: [model_to_dict(obj) for obj in model.objects.order_by("pk")]
        for model in (Merchant, User, Membership, Location, Invitation, ApiKey)
    }


def membership(user, merchant) -> Membership:
    return Membership.objects.get(user=user, merchant=merchant)


def role_in(user, merchant) -> str:
    return membership(user, merchant).role


def login(client, user) -> None:
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")


def password_login(client, email: str, password: str) -> bool:
    """Log in through the login form, as a person does (django-axes needs the request, so
    ``client.login`` cannot be used); True when the session now holds a user."""
    from django.urls import reverse

    client.post(reverse("login"), {"username": email, "password": password})
    return "_auth_user_id" in client.session
