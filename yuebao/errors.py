"""Errors the command line turns into exit status 2 with one clear line."""


class UsageError(Exception):
    """Bad usage or configuration: a missing file, a bad month, a missing export.

    The message is shown to the user as is, on one line, so it must say what is
    wrong and where (file, key or argument).
    """
