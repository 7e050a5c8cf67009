class MerchantError(Exception):
    """A merchant-facing rule was broken; the message is shown to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvitationInvalid(MerchantError):
    pass


class InvitationPending(MerchantError):
    """An open invitation already exists for this address: the owner chooses
    to send it again or to replace it, never silently."""

    def __init__(self, message: str, *, invitation) -> None:
        super().__init__(message, field="email")
        self.invitation = invitation
