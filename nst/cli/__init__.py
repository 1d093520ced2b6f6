"""The command line (`python -m nst`)."""
