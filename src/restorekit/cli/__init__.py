"""The command-line interface (``restorekit <command> ...``)."""
