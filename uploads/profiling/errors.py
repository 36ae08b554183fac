"""Why a file cannot be profiled: one exception with a stable code."""

from __future__ import annotations


class ProfileError(Exception):
    """The file cannot be profiled.

    ``code`` is stable and machine readable: ``not_found``, ``empty_file``,
    ``not_csv``, ``undecodable``, ``too_many_columns``, ``parse_error``,
    ``out_of_memory``. ``message`` is a sentence for humans.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
