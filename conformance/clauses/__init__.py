"""The clause tests, grouped by the seed documents' sections (one module per clause family)."""
