"""等保 2.0 level-3 compliance of the devices' configurations (the catalogue: docs in yiwang/compliance/rules.yaml)."""
