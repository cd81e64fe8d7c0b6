"""Identity resolution: linking records that belong to the same person."""
