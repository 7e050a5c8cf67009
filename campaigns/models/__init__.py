from .campaigns import (
    Campaign,
    CampaignSettings,
    Delivery,
    DeliveryStatus,
    Kind,
    Send,
    SendStatus,
    Status,
    Trigger,
)
from .channels import ChannelChoices, ChannelConsent, TelegramLink
from .feedback import Feedback
from .segments import RfmGroup, RfmScore, Segment

__all__ = [
    "Campaign",
    "CampaignSettings",
    "ChannelChoices",
    "ChannelConsent",
    "Delivery",
    "DeliveryStatus",
    "Feedback",
    "Kind",
    "RfmGroup",
    "RfmScore",
    "Segment",
    "Send",
    "SendStatus",
    "Status",
    "TelegramLink",
    "Trigger",
]
