"""review-bot: reviews the changed hunks of test files with ast-grep rules."""

__version__ = "0.1.0"
