"""The card designer: validation, drafts, publishing versions and the wallet update it triggers."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import Image

from loyalty.design import services
from loyalty.enrollment.services import enroll_customer
from loyalty.models import CardDesign, WalletPass
from loyalty.program.services import program_for, save_program
from loyalty.wallet import images
from loyalty.wallet.passes import sync_progress, wallet_pass_for
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/dashboard/design/"


@pytest.fixture(autouse=True)
def english(settings):
    # Messages are asserted in English; the project's default language is Russian.
    settings.LANGUAGE_CODE = "en"


def png(size=(400, 200), colour=(200, 40, 40, 255), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGBA" if fmt == "PNG" else "RGB", size, colour if fmt == "PNG" else colour[:3])
    image.save(buffer, fmt)
    return buffer.getvalue()


def form_data(client) -> dict:
    """The designer's form as a browser submits it unchanged."""
    response = client.get(URL)
    assert response.status_code == 200
    form = response.context["form"]
    data = {}
    for name in form.fields:
        if name in ("logo", "icon", "strip"):
            continue
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if name == "locations":
            data[name] = [str(v.pk if hasattr(v, "pk") else v) for v in (value or [])]
            continue
        data[name] = "" if value is None else value
    return data


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def _draft(merchant):
    return CardDesign.objects.for_merchant(merchant).get(published_at__isnull=True)


def test_page_shows_form_and_both_previews(logged_in, merchant):
    response = logged_in.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="design-preview"' in html
    assert "Apple Wallet" in html and "Google Wallet" in html
    assert "350" in html and "Серебро" in html and "Анна" in html
    assert 'href="/dashboard/design/"' in html  # in the navigation
    assert "js/design-preview.js" in html


def test_cashier_may_not_design(client, cashier):
    client.force_login(cashier)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {}).status_code == 403


def test_marketer_may_design(client, marketer):
    client.force_login(marketer)
    assert client.get(URL).status_code == 200


def test_save_draft_stores_colours_and_texts(logged_in, merchant, location):
    data = form_data(logged_in)
    data.update(
        background_color="#1E5631",
        foreground_color="#ffffff",
        label_color="#c8e6c9",
        program_name="Зерно Club",
        terms="1 балл = 1 ₽",
        change_message="Теперь у вас %@ баллов",
        barcode_format="pdf417",
        locations=[str(location.pk)],
        relevant_text="Вы рядом — заходите!",
        action="save",
    )
    response = logged_in.post(URL, data)
    assert response.status_code == 302, response.context["form"].errors
    draft = _draft(merchant)
    assert draft.background_color == "#1e5631"
    assert draft.program_name == "Зерно Club"
    assert draft.change_message == "Теперь у вас %@ баллов"
    assert draft.barcode_format == "pdf417"
    assert list(draft.locations.all()) == [location]
    assert not CardDesign.objects.for_merchant(merchant).filter(published_at__isnull=False).exists()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"background_color": "red"}, "background_color", "six hex digits"),
        ({"foreground_color": "#12345"}, "foreground_color", "six hex digits"),
        ({"label_color": "#gggggg"}, "label_color", "six hex digits"),
        # Too long: the colour message, not "at most 7 characters" (issue 12).
        ({"background_color": "#3b2a20ff"}, "background_color", "six hex digits"),
        ({"change_message": "Баланс изменился"}, "change_message", "%@"),
        ({"change_message": "%@ и %@"}, "change_message", "%@"),
        ({"website": "not a url"}, "website", "URL"),
    ],
)
def test_bad_input_gets_clear_error_and_saves_nothing(logged_in, merchant, changes, field, message):
    data = form_data(logged_in)
    before = CardDesign.objects.for_merchant(merchant).values().get()
    data.update(changes, action="publish")
    response = logged_in.post(URL, data)
    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert any(message in e for e in errors), errors
    # The error is shown next to the field.
    assert "field-errors" in response.content.decode()
    assert CardDesign.objects.for_merchant(merchant).values().get() == before
    assert CardDesign.objects.for_merchant(merchant).count() == 1


@pytest.mark.parametrize(
    "upload, message",
    [
        (SimpleUploadedFile("logo.txt", b"hello, not an image", content_type="text/plain"), "not an image"),
        (SimpleUploadedFile("logo.gif", None, content_type="image/gif"), "GIF images are not accepted"),
        (SimpleUploadedFile("logo.png", b"\x89PNG" + b"0" * (images.MAX_UPLOAD_BYTES + 10)), "too large"),
        (SimpleUploadedFile("logo.png", None), "too small"),
    ],
    ids=["text", "gif", "oversize", "tiny"],
)
def test_bad_image_gets_clear_error_and_saves_nothing(logged_in, merchant, upload, message):
    if upload.name == "logo.gif":
        buffer = io.BytesIO()
        Image.new("RGB", (100, 100), (1, 2, 3)).save(buffer, "GIF")
        upload = SimpleUploadedFile("logo.gif", buffer.getvalue(), content_type="image/gif")
    elif upload.size == 0:
        upload = SimpleUploadedFile("logo.png", png(size=(8, 8)), content_type="image/png")
    data = form_data(logged_in)
    data.update(background_color="#000000", logo=upload, action="save")
    response = logged_in.post(URL, data)
    assert response.status_code == 400
    errors = response.context["form"].errors["logo"]
    assert any(message in e for e in errors), errors
    draft = _draft(merchant)
    assert not draft.logo
    assert draft.background_color != "#000000"


def test_image_upload_is_normalised_to_png_and_served_to_the_preview(logged_in, merchant, tmp_path):
    data = form_data(logged_in)
    data["logo"] = SimpleUploadedFile("logo.jpg", png(size=(3000, 1000), fmt="JPEG"), content_type="image/jpeg")
    data["action"] = "save"
    response = logged_in.post(URL, data)
    assert response.status_code == 302, response.context["form"].errors
    draft = _draft(merchant)
    assert draft.logo.name.endswith(".png")
    with draft.logo.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
        assert stored.format == "PNG"
        assert max(stored.size) == services.KEEP_LONGEST_SIDE["logo"]
    served = logged_in.get(reverse("design_logo"))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    # Apple's three sizes are made from it.
    with draft.logo.open("rb") as handle:
        files = images.apple_image_set("logo", handle.read())
    assert set(files) == {"logo.png", "logo@2x.png", "logo@3x.png"}

    # Removing it ("clear") keeps the published versions' files untouched.
    data = form_data(logged_in)
    data.update({"logo-clear": "on", "action": "save"})
    assert logged_in.post(URL, data).status_code == 302
    assert not _draft(merchant).logo
    assert logged_in.get(reverse("design_logo")).status_code == 404


def test_more_than_ten_locations_is_refused(logged_in, merchant):
    locations = [factories.LocationFactory(merchant=merchant) for _ in range(11)]
    data = form_data(logged_in)
    data.update(locations=[str(loc.pk) for loc in locations], action="save")
    response = logged_in.post(URL, data)
    assert response.status_code == 400
    assert "at most 10" in response.context["form"].errors["locations"][0]
    assert not _draft(merchant).locations.exists()


def test_locations_without_coordinates_or_of_another_merchant_are_not_offered(logged_in, merchant, other_merchant):
    bare = factories.LocationFactory(merchant=merchant, latitude=None, longitude=None)
    foreign = factories.LocationFactory(merchant=other_merchant)
    data = form_data(logged_in)
    data.update(locations=[str(foreign.pk)], action="save")
    response = logged_in.post(URL, data)
    assert response.status_code == 400
    assert "locations" in response.context["form"].errors
    offered = set(response.context["form"].fields["locations"].queryset)
    assert bare not in offered and foreign not in offered


def _cards_with_passes(merchant, n):
    program_for(merchant=merchant)
    passes = []
    for i in range(n):
        card = enroll_customer(merchant=merchant, phone=f"+7916000{i:04d}", name=f"Гость {i}")
        passes.append(wallet_pass_for(card=card))
    WalletPass.objects.for_merchant(merchant).update(needs_sync_since=None)
    return passes


def test_publish_creates_an_immutable_version_and_marks_every_card(
    logged_in, merchant, owner, other_merchant, django_capture_on_commit_callbacks
):
    _cards_with_passes(merchant, 3)
    _cards_with_passes(other_merchant, 1)

    data = form_data(logged_in)
    data.update(background_color="#112233", action="publish")
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(URL, data)
    assert response.status_code == 302
    v1 = CardDesign.objects.for_merchant(merchant).get(version=1)
    assert v1.published_at is not None and v1.background_color == "#112233" and v1.created_by == owner
    # Every installed card of this merchant waits for the update; the other merchant's does not.
    assert WalletPass.objects.for_merchant(merchant).filter(needs_sync_since__isnull=False).count() == 3
    assert WalletPass.objects.for_merchant(other_merchant).filter(needs_sync_since__isnull=False).count() == 0
    assert sync_progress(merchant=merchant) == (3, 3)

    # The next edit is a new draft; version 1 does not change.
    v1_values = CardDesign.objects.values().get(pk=v1.pk)
    data = form_data(logged_in)
    assert data["background_color"] == "#112233"  # the draft starts from the published version
    data.update(background_color="#445566", action="save")
    assert logged_in.post(URL, data).status_code == 302
    assert CardDesign.objects.values().get(pk=v1.pk) == v1_values
    assert _draft(merchant).background_color == "#445566"

    data = form_data(logged_in)
    data["action"] = "publish"
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(URL, data)
    versions = list(CardDesign.objects.for_merchant(merchant).order_by("version").values_list("version", flat=True))
    assert versions == [1, 2]
    assert CardDesign.objects.values().get(pk=v1.pk) == v1_values
    page = logged_in.get(URL).content.decode()
    assert 'id="sync-progress"' in page and "0 of 3" in page


def test_publish_without_a_draft_is_refused(merchant, owner):
    services.draft_for(merchant=merchant)
    services.publish(merchant=merchant, actor=owner)
    with pytest.raises(services.NothingToPublish):
        services.publish(merchant=merchant, actor=owner)
    assert CardDesign.objects.for_merchant(merchant).count() == 1


def test_nothing_to_publish_speaks_the_active_language(merchant, owner):
    # The message is translated when raised, not once when the module is imported.
    services.draft_for(merchant=merchant)
    services.publish(merchant=merchant, actor=owner)
    for language, message in [
        ("en", "There is no draft to publish: it was published a moment ago."),
        ("ru", "Нечего публиковать: черновик только что опубликовали."),
    ]:
        with translation.override(language), pytest.raises(services.NothingToPublish) as raised:
            services.publish(merchant=merchant, actor=owner)
        assert raised.value.message == message


def test_published_version_cannot_be_saved_as_draft(merchant, owner):
    services.draft_for(merchant=merchant)
    version = services.publish(merchant=merchant, actor=owner)
    version.background_color = "#000000"
    with pytest.raises(Exception, match="Only the draft"):
        services.save_draft(merchant=merchant, design=version, locations=[], actor=owner)
    assert CardDesign.objects.get(pk=version.pk).background_color != "#000000"


def test_progress_endpoint(logged_in, merchant):
    passes = _cards_with_passes(merchant, 2)
    WalletPass.objects.filter(pk=passes[0].pk).update(needs_sync_since="2026-01-01T00:00:00Z")
    response = logged_in.get(reverse("design_progress"))
    assert response.json() == {"waiting": 1, "total": 2, "updated": 1}


def test_stamp_strip_endpoint_draws_the_preview_strip(logged_in, merchant, owner):
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=8)
    page = logged_in.get(URL).content.decode()
    assert "stamp-strip.png" in page and "4 / 8" in page
    response = logged_in.get(reverse("design_stamp_strip"), {"bg": "#3b2a20", "fg": "#ffffff", "filled": 4, "total": 8})
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (750, 246)
    for bad in ({"bg": "red", "fg": "#ffffff"}, {"bg": "#000000", "fg": "#ffffff", "total": 99}, {"filled": "x"}):
        params = {"bg": "#000000", "fg": "#ffffff", "filled": 1, "total": 6, **bad}
        assert logged_in.get(reverse("design_stamp_strip"), params).status_code == 400


def test_other_merchant_sees_only_its_own_draft(client, merchant, other_owner):
    services.draft_for(merchant=merchant)
    CardDesign.objects.for_merchant(merchant).update(program_name="Секрет A")
    client.force_login(other_owner)
    response = client.get(URL)
    assert "Секрет A" not in response.content.decode()
    # The other owner does see the designer, with a draft of their own merchant.
    assert response.status_code == 200
    assert response.context["form"].instance.merchant_id == other_owner.memberships.get().merchant_id
    assert CardDesign.objects.for_merchant(other_owner.memberships.get().merchant).exists()
    assert "Секрет A" not in client.get(URL).content.decode()


def test_preview_says_the_last_place_is_the_free_visit(logged_in, merchant, owner):
    """Defect 14 in the designer: 8 places, the 8th is the free visit (pay for 7)."""
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=8)
    page = logged_in.get(URL).content.decode()
    assert 'id="stamp-rule"' in page
    assert "The strip has 8 places; the last one, marked with a gift, is the free visit" in page
    assert "Pay for 7 visits, the next one is free" in page  # on the preview's back, as on the pass
