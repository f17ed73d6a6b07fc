"""Small helpers shared by the reference trainer (no trainer logic lives here)."""
