"""Apple Wallet and Google Wallet building blocks.

Plain data in, bytes or JSON out: no models here. ``certificates`` loads and
checks pass certificates, ``apple`` builds and signs ``.pkpass`` files,
``apns`` pushes pass updates, ``google`` talks to the Google Wallet API,
``images`` prepares card artwork and ``qr`` draws enrolment QR codes.
"""
