"""Exceptions with the names Lightning users catch."""


class MisconfigurationException(Exception):
    """The user configured something Lightning-style training cannot run with.

    Raised where Lightning raises its exception of the same name, so ``except
    MisconfigurationException`` written for Lightning keeps working.
    """
