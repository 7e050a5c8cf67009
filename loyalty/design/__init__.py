"""The card designer: the merchant edits a draft of the card design, sees it live
in Apple and Google style, and publishes it as a new immutable version."""
