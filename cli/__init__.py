"""The command line's helpers (manage.py holds the commands): terminal output, options
generated from the request model, one-line errors, and the checks `serve` makes."""
