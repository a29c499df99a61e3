"""Configuration archive: normalized running configs in git, one commit per real change, indexed in SQL."""
