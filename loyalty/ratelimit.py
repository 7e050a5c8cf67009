"""Rate limits moved to ``merchants.ratelimit`` (the login and password-reset
limits live in merchants, which never imports loyalty); kept here so loyalty's
imports stay short."""

from merchants.ratelimit import Limit, client_ip, hit

__all__ = ["Limit", "client_ip", "hit"]
