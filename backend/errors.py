"""Errors meant for the user. The CLI prints them in one line, without a traceback."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the message says what to do. Exit code 2."""
