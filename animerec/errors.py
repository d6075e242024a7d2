"""Errors a user can act on; the CLI prints them as one line and exits non-zero."""


class AnimerecError(Exception):
    """Base of every expected failure (bad input, missing artefacts, unknown names)."""


class DataError(AnimerecError):
    """An input file is missing, unreadable, or lacks a required column."""


class UnknownTitleError(AnimerecError, KeyError):
    """A title given by name matches no anime; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
