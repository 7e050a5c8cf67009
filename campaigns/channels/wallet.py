"""The wallet channel: the message goes on the customer's card (the back of the Apple pass,
a message on the Google object) through the wallet's published contract; the wallet pipeline
then pushes the update to Apple devices and Google, notifying within the card's daily budget
(Google's 3 per 24 hours, shared by both wallets).

``post_card_message`` writes rows only and queues the push on commit, so the sender calls it
inside the transaction that marks the delivery sent: either both happen or neither does.
"""

from __future__ import annotations

from loyalty.models import Card
from loyalty.wallet import contract as wallet

from .base import Channel, ChannelClient, OutgoingMessage, SendResult


class WalletChannel(ChannelClient):
    name = Channel.WALLET

    def send(self, message: OutgoingMessage) -> SendResult:
        card = Card.objects.filter(pk=int(message.address), merchant_id=message.merchant_id).first()
        if card is None:
            return SendResult.refused("card not found", channel_off=True)
        if card.is_blocked:
            return SendResult.refused("card blocked", channel_off=True)
        header = message.subject or message.sender_name
        wallet_pass = wallet.post_card_message(card=card, header=header, body=message.text)
        return SendResult.sent(wallet_pass.message_key)
