import pytest

from tests.fakes.pki import ThrowawayPKI, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> ThrowawayPKI:
    pki = make_pki()
    pki.write(tmp_path_factory.mktemp("pki"))
    return pki


@pytest.fixture(autouse=True)
def _english():
    # Error messages are asserted in English; the project default is Russian.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(scope="session")
def signer(pki):
    from loyalty.wallet import certificates

    return certificates.load_pkcs12(pki.pass_cert.p12(b"pw"), "pw")


@pytest.fixture(scope="session")
def card_images():
    from loyalty.wallet import images

    return {
        **images.default_icon_set("Зерно", background="#3b2417", foreground="#ffffff"),
        **images.stamp_strip_set(filled=4, total=6, background="#3b2417", foreground="#ffffff"),
    }
