from django.urls import reverse

from tests.factories import PASSWORD


def test_staff_logs_in_and_sees_merchant_name(client, owner, merchant):
    response = client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert merchant.name in response.content.decode()


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
