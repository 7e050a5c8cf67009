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
