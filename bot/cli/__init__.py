"""The `review-bot` command line (layer 7): argument parsing and the CLI's intakes."""
