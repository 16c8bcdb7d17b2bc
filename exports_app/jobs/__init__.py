"""Background work: the refresh scheduler, one tick of it, and the live push to browsers."""
