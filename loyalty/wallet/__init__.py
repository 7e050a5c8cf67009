"""Apple Wallet and Google Wallet.

The building blocks take plain data in and give bytes or JSON out, without
touching the database: ``certificates`` loads and checks pass certificates,
``apple`` builds and signs ``.pkpass`` files, ``apns`` pushes pass updates,
``google`` talks to the Google Wallet API, ``images`` prepares card artwork
and ``qr`` draws enrolment QR codes.

The rest reads and writes the wallet models (``WalletPass``,
``AppleRegistration`` …, defined in ``loyalty/models/passes.py``, not here):
``render`` turns a card into what the wallets show, ``tasks`` runs the push
pipeline, ``passkit_views`` serves the downloads and the PassKit web service,
``dashboard_views`` the owner's wallet pages.
"""
