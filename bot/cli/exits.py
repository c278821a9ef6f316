"""The exit codes every command shares."""

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
