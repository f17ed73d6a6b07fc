"""Building blocks for clauses: data, models built from the target's own base classes, recorders."""
