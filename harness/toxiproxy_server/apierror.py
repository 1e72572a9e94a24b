"""The error a handler answers with: the real server's message text and HTTP status."""

from __future__ import annotations


class ApiError(Exception):
    """An API failure. ``message`` is sent verbatim as ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bad_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


def missing_field(what: str) -> ApiError:
    return ApiError(f"missing required field: {what}", 400)


PROXY_NOT_FOUND = ApiError("proxy not found", 404)
PROXY_EXISTS = ApiError("proxy already exists", 409)
TOXIC_NOT_FOUND = ApiError("toxic not found", 404)
TOXIC_EXISTS = ApiError("toxic already exists", 409)
INVALID_STREAM = ApiError("stream was invalid, can be either upstream or downstream", 400)
INVALID_TOXIC_TYPE = ApiError("invalid toxic type", 400)


def server_error(message: str) -> ApiError:
    """Errors without a status of their own (OS and address errors) are 500s with the raw text."""
    return ApiError(message, 500)
