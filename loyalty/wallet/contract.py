"""What the rest of the product calls to reach the wallet.

Other packages (the ledger, the designer, enrolment, the admin, campaigns)
import this module and nothing else of the wallet's services:

- ``card_changed(card_id)``: a card's balance, tier, stamps or status changed
  (called by the ledger inside its transaction); its pass is marked, by one
  statement on PostgreSQL, and once that commits the debounced pipeline
  updates Apple and Google; ``cards_changed_by_id(card_ids)`` for several;
- ``card_changed_statement(card_id=…, now=…)`` and ``card_marked(rows)``: the
  same mark as SQL that a ledger write sends with its own statement
  (PostgreSQL), in its transaction;
- ``cards_changed(merchant=…, card_ids=…)``: the same for many cards (a design
  published, a bulk reissue); ``None`` means every card of the merchant;
- ``post_card_message(card=…, header=…, body=…)``: put a message on the card
  (both wallets), notifying within the daily budget; ``post_card_messages`` does
  the same for a batch of cards or card ids (a campaign), in one statement;
- ``wallet_pass_for(card=…)``: the card's pass (created on first use), for links;
- ``reissue_pass(card=…)``: new serial, token and web link; the old pass stops updating;
- ``wallets_available(merchant=…)``: which wallets the merchant can offer, and why not;
- ``sync_progress(merchant=…)`` and ``wallet_status_for(card=…)``: for pages;
- ``default_design(merchant=…)`` and its locations: what a card shows before
  the merchant publishes a design (the designer's first draft starts from it).

The building blocks ``images`` and ``qr`` are plain drawing code that the
designer and the poster use directly.
"""

from loyalty.wallet.credentials import WalletAvailability
from loyalty.wallet.designs import (
    MAX_PASS_LOCATIONS,
    default_contacts,
    default_design,
    default_locations,
    lock_screen_locations,
)
from loyalty.wallet.passes import (
    WalletStatus,
    card_changed,
    card_changed_statement,
    card_marked,
    cards_changed_by_id,
    post_card_message,
    post_card_messages,
    reissue_pass,
    sync_progress,
    wallet_pass_for,
    wallet_status_for,
    wallets_available,
)
from loyalty.wallet.passes import mark_cards_changed as cards_changed

__all__ = [
    "MAX_PASS_LOCATIONS",
    "default_contacts",
    "default_design",
    "default_locations",
    "lock_screen_locations",
    "WalletAvailability",
    "WalletStatus",
    "card_changed",
    "card_changed_statement",
    "card_marked",
    "cards_changed",
    "cards_changed_by_id",
    "post_card_message",
    "post_card_messages",
    "reissue_pass",
    "sync_progress",
    "wallet_pass_for",
    "wallet_status_for",
    "wallets_available",
]
