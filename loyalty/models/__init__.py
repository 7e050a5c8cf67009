from .api import IdempotentRequest
from .cards import Card, CardEvent, CardStatus, ConsentRecord, Customer, Source, TierChange
from .consent import ConsentText, PersonalDataConsent  # noqa: F401 (re-exported)
from .ledger import EntryKind, LedgerEntry, Lot, Purchase, Refund
from .offers import CardOffer, OfferKind
from .passes import (
    AppleDevice,
    AppleRegistration,
    BarcodeFormat,
    CardDesign,
    Delivery,
    DeviceLog,
    WalletCredentials,
    WalletPass,
)
from .rules import Mechanic, Program, ProgramVersion, Tier
from .support import PendingAdjustment

__all__ = [
    "AppleDevice",
    "AppleRegistration",
    "BarcodeFormat",
    "CardDesign",
    "Delivery",
    "DeviceLog",
    "WalletCredentials",
    "WalletPass",
    "Card",
    "CardOffer",
    "CardEvent",
    "CardStatus",
    "ConsentRecord",
    "Customer",
    "EntryKind",
    "IdempotentRequest",
    "LedgerEntry",
    "Lot",
    "Mechanic",
    "OfferKind",
    "Program",
    "ProgramVersion",
    "PendingAdjustment",
    "Purchase",
    "Refund",
    "Source",
    "Tier",
    "TierChange",
]
