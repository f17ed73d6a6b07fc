"""The user-facing building blocks: hook mixins, device tracking, the optimizer wrapper."""
