"""Code-review platforms (layer 6): the adapter contract in base.py, one module or folder each."""
