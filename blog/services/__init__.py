"""Use cases that touch the database; views, the CLI, the API and the importer call these."""


class ServiceError(Exception):
    """A request the user can fix: the message says how. ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class NotFound(ServiceError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message, status=404)


class Forbidden(ServiceError):
    def __init__(self, message: str = "You are not allowed to do that.") -> None:
        super().__init__(message, status=403)
