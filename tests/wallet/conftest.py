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


@pytest.fixture(scope="session")
def fake_apns(pki, tmp_path_factory):
    from tests.fakes.apns import FakeAPNs

    fake = FakeAPNs(client_ca_file=pki.files["ca"], workdir=tmp_path_factory.mktemp("apns")).start()
    yield fake
    from loyalty.wallet import apns

    apns.close_connections()
    fake.stop()


@pytest.fixture
def apns_server(fake_apns, settings):
    """The fake APNs, cleared, with the settings pointing at it."""
    fake_apns.reset()
    settings.APNS_HOST = fake_apns.host
    settings.APNS_PORT = fake_apns.port
    settings.APNS_CA_FILE = str(fake_apns.server_ca_file)
    return fake_apns


@pytest.fixture
def fake_google(settings):
    from tests.fakes.google import FakeGoogleWallet

    fake = FakeGoogleWallet().start()
    settings.GOOGLE_WALLET_API_URL = fake.api_url
    yield fake
    fake.stop()
