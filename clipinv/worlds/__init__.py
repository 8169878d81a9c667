"""Worlds: small planted image-text worlds with their own models (the shapes world), each behind the
same registry of models that `clipinv.load_model` reads."""
