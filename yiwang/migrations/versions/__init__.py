"""The schema's revisions, one module each, numbered: see `yiwang.migrations`."""
