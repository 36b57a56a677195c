"""How errors answer: a bad body names each field (422), a service's refusal answers with its
status and message, and a lead whose workflow the server does not know is 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from temporalio.service import RPCError, RPCStatusCode

from starter import erasure, stewardship
from starter.identity import IdentityConflict
from starter.intake import EventPayloadError
from starter.review_decisions import ReviewNotOpen, UnknownReview
from starter.task_actions import TaskNotOpen, UnknownTask, WrongTeam

T = TypeVar("T")
Handler = Callable[[Request, Exception], JSONResponse]

# What the services the routes call refuse with, and the status each refusal answers; the
# error's message is the answer's `detail`.
REFUSALS: dict[type[Exception], int] = {
    UnknownReview: 404,
    UnknownTask: 404,
    stewardship.UnknownIdentityReview: 404,
    stewardship.UnknownLead: 404,
    WrongTeam: 403,
    ReviewNotOpen: 409,
    TaskNotOpen: 409,
    stewardship.IdentityReviewNotOpen: 409,
}


def add_exception_handlers(app: FastAPI) -> None:
    """Answer the errors the routes let through."""
    app.add_exception_handler(EventPayloadError, _payload_error)  # type: ignore[arg-type]
    app.add_exception_handler(IdentityConflict, _identity_conflict)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_error)  # type: ignore[arg-type]
    app.add_exception_handler(erasure.UnknownLead, _unknown_lead)  # type: ignore[arg-type]
    for error, code in REFUSALS.items():
        app.add_exception_handler(error, _refused_with(code))


async def on_lead(lead_id: str, call: Awaitable[T]) -> T:
    """Await a call on the lead's workflow; one the server does not know answers 404."""
    try:
        return await call
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"no lead {lead_id}") from err
        raise


def _refused_with(code: int) -> Handler:
    def refused(_: Request, err: Exception) -> JSONResponse:
        return JSONResponse(status_code=code, content={"detail": str(err)})

    return refused


def _unknown_lead(_: Request, err: erasure.UnknownLead) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": f"no lead {err}"})


def _identity_conflict(_: Request, err: IdentityConflict) -> JSONResponse:
    return JSONResponse(status_code=409, content={"message": str(err)})


def _payload_error(_: Request, err: EventPayloadError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"message": str(err), "errors": err.problems},
    )


def _request_error(_: Request, err: RequestValidationError) -> JSONResponse:
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(status_code=422, content={"message": message, "errors": problems})
