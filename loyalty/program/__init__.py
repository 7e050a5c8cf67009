"""The loyalty program: its rules (pure calculation), versions, and the editor page."""
