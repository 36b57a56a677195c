"""Who acts from the command line, as recorded in the audit trail: `cli:<os user>`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from starter.cli.output import fail

if TYPE_CHECKING:
    from pydantic import BaseModel

Request = TypeVar("Request", bound="BaseModel")


def cli_actor() -> str:
    """Who acts from the command line, as recorded: `cli:<os user>`."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"


def cli_request(model: type[Request], *, unnamed: str = "request", **fields: Any) -> Request:
    """The request `model` made from the command's options, acted by `cli:<os user>`.

    A request that does not validate exits 2, naming each problem as `field: message`
    (`unnamed` names a problem of the request as a whole).
    """
    from pydantic import ValidationError

    try:
        return model(actor=cli_actor(), **fields)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or unnamed}: {e['msg']}" for e in err.errors()
        )
        fail(problems, 2)
