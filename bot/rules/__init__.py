"""Rule YAML -> the core's compiled rules; the rules a config selects; rule tests (layer 4)."""
