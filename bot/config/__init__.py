"""The team configuration: pydantic models, secrets and YAML with line numbers (layer 3)."""
