class MerchantError(Exception):
    """A merchant-facing rule was broken; the message is shown to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvitationInvalid(MerchantError):
    pass
