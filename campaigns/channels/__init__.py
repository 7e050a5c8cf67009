"""The channels a campaign reaches customers on, one interface (``base.ChannelClient``):
wallet (the message on the card, through ``loyalty.wallet.contract``), e-mail (Django's
e-mail backend), SMS (an HTTP gateway speaking Twilio's Messages API) and Telegram (Bot API)."""
