"""The pure, synchronous analysis core: data in, data out (ARCHITECTURE.md, layer 2)."""
