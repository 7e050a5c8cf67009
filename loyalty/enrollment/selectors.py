"""Reads for the public enrolment pages and the web card: the merchant's consent
wording, look and offer, and a card's recent history as a customer reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from loyalty.design.selectors import design_for_customers
from loyalty.ledger.selectors import card_history
from loyalty.models import Card, CardDesign, ConsentText, EntryKind, LedgerEntry, WalletPass
from loyalty.program.rules import Rules
from loyalty.program.services import current_rules
from loyalty.wallet.images import hex_to_rgb, readable_on
from merchants.models import Merchant

# The built-in wording's version; bump it when the default text changes (in any language).
# default-1: "согласие Кофейня «Зерно»"; default-2 (issue 12): "согласие компании «Кофейня „Зерно“»".
DEFAULT_CONSENT_VERSION = "default-2"


@dataclass(frozen=True)
class ConsentWording:
    version: str
    personal_data_text: str
    marketing_text: str
    policy_url: str
    is_default: bool


# Quotes a whole name may come wrapped in: (opening, closing).
_OUTER_QUOTES = (("«", "»"), ('"', '"'), ("“", "”"), ("„", "“"), ("'", "'"))


def _quoted(name: str) -> str:
    """The business name in quotes, after a word that declines ("согласие компании «…»"):
    the name's own outer quotes are dropped, and quotes inside it become „…“, so that
    "Кофейня «Зерно»" reads «Кофейня „Зерно“», never «Кофейня «Зерно»»."""
    name = " ".join(name.split())
    for opening, closing in _OUTER_QUOTES:
        if len(name) > 2 and name.startswith(opening) and name.endswith(closing):
            name = name[1:-1].strip()
            break
    inner: list[str] = []
    for char in name:
        if char == "«":
            char = "„"
        elif char == "»":
            char = "“"
        elif char in '"”':
            # Straight or closing quotes: open or close by what was last open.
            char = "“" if inner.count("„") > inner.count("“") else "„"
        inner.append(char)
    return f"«{''.join(inner)}»"


def default_consent(*, merchant: Merchant) -> ConsentWording:
    personal = _(
        "I agree that %(merchant)s processes my personal data (name, phone number, birthday, e-mail) "
        "to run the loyalty program."
    ) % {"merchant": _quoted(merchant.name)}
    if merchant.country == "RU":
        personal += " " + _("In accordance with Federal Law No. 152-FZ «On Personal Data».")
    marketing = _("I want to receive offers and bonus news from %(merchant)s. I can unsubscribe at any time.") % {
        "merchant": _quoted(merchant.name)
    }
    return ConsentWording(DEFAULT_CONSENT_VERSION, personal, marketing, "", True)


def current_consent(*, merchant: Merchant) -> ConsentWording:
    """The wording the enrolment page shows now: the merchant's latest version, or the default."""
    text = ConsentText.objects.for_merchant(merchant).order_by("-version").first()
    if text is None:
        return default_consent(merchant=merchant)
    return ConsentWording(text.label, text.personal_data_text, text.marketing_text, text.policy_url, False)


@dataclass(frozen=True)
class Brand:
    """The merchant's look on customer pages, from the published card design."""

    design: CardDesign
    background: str
    foreground: str
    label: str
    # For buttons and links on the white page: the card colour, unless it is too pale to read on white.
    accent: str
    accent_text: str
    has_logo: bool


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def brand_for(*, merchant: Merchant) -> Brand:
    design = design_for_customers(merchant=merchant)
    background = hex_to_rgb(design.background_color)
    accent = design.background_color if readable_on((255, 255, 255), background) == background else "#1c1c1e"
    accent_text = _hex(readable_on(hex_to_rgb(accent), hex_to_rgb(design.foreground_color)))
    return Brand(
        design=design,
        background=design.background_color,
        foreground=_hex(readable_on(background, hex_to_rgb(design.foreground_color))),
        label=design.label_color,
        accent=accent,
        accent_text=accent_text,
        has_logo=bool(design.logo),
    )


@dataclass(frozen=True)
class Offer:
    """What joining gives, for the enrolment page and the poster."""

    rules: Rules
    welcome_points: int
    stamps_per_reward: int
    reward: str
    birthday_points: int
    friend_points: int

    @property
    def stamps_to_collect(self) -> int:
        # Every N-th visit is free: the N - 1 paid visits before it each earn a stamp.
        return max(1, self.stamps_per_reward - 1)


def offer_for(*, merchant: Merchant) -> Offer:
    rules = current_rules(merchant=merchant)
    return Offer(
        rules=rules,
        welcome_points=rules.welcome_bonus if rules.uses_points else 0,
        stamps_per_reward=rules.stamps_per_reward if rules.uses_stamps else 0,
        reward=rules.reward_description if rules.uses_stamps else "",
        birthday_points=rules.birthday_bonus if rules.uses_points else 0,
        friend_points=rules.referral_friend_bonus if rules.uses_points else 0,
    )


def web_card(*, web_token: str) -> WalletPass | None:
    """The pass behind a web card URL, with its card, customer, tier and merchant; None if unknown."""
    if not web_token or len(web_token) > 64:
        return None
    return (
        WalletPass.objects.select_related("card", "card__customer", "card__tier", "merchant")
        .filter(web_token=web_token)
        .first()
    )


@dataclass(frozen=True)
class HistoryLine:
    when: datetime
    title: str
    points: int
    stamps: int
    rewards: int
    amount: object  # the purchase's bill (Decimal) or None


def history_lines(*, merchant: Merchant, card: Card, limit: int = 10) -> list[HistoryLine]:
    """The card's latest movements as a customer reads them: one line per
    purchase and kind (a redemption spread over several lots is one line)."""
    entries: list[LedgerEntry] = list(card_history(merchant=merchant, card=card, limit=limit * 4))
    lines: list[HistoryLine] = []
    index: dict[tuple, int] = {}
    for entry in entries:
        key = (entry.purchase_id or f"e{entry.pk}", entry.refund_id, entry.kind)
        if key in index:
            old = lines[index[key]]
            lines[index[key]] = HistoryLine(
                old.when, old.title, old.points + entry.points, old.stamps + entry.stamps, old.rewards + entry.rewards,
                old.amount,
            )  # fmt: skip
            continue
        if len(lines) >= limit:
            break
        title = EntryKind(entry.kind).label if entry.kind in EntryKind.values else entry.kind
        if entry.kind == EntryKind.EARN and entry.purchase is not None:
            title = _("Purchase")
        shows_bill = entry.kind in (EntryKind.EARN, EntryKind.STAMP)
        amount = entry.purchase.bill_amount if entry.purchase is not None and shows_bill else None
        index[key] = len(lines)
        lines.append(HistoryLine(entry.created_at, str(title), entry.points, entry.stamps, entry.rewards, amount))
    return lines
