"""`leadflow review list|decide`: compliance reviews."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from starter.cli.actor import cli_request
from starter.cli.connections import load_settings, open_database, run_service
from starter.cli.output import JsonOption, console, print_json, print_result

app = typer.Typer(help="Compliance reviews: leads held until a reviewer decides.")


@app.command("list")
def review_list(
    status: Annotated[
        Literal["open", "escalated", "released", "blocked"] | None, typer.Option()
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Leads held for compliance review, oldest first (as GET /v1/compliance/reviews)."""
    from rich.table import Table

    from models.queries import list_reviews

    rows = list_reviews(open_database(load_settings()), status)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table()
    table.add_column("review", no_wrap=True)  # ids are copied into `review decide`
    table.add_column("lead", no_wrap=True)
    for heading in ("status", "reason", "opened", "due", "reviewer"):
        table.add_column(heading)
    for r in rows:
        table.add_row(
            r.review_id,
            r.lead_id,
            r.status,
            r.reason,
            f"{r.opened_at:%Y-%m-%d %H:%M}",
            f"{r.due_at:%Y-%m-%d %H:%M}" if r.due_at else "",
            r.reviewer or "",
        )
    console.print(table)


@app.command("decide")
def review_decide(
    review_id: str,
    decision: Annotated[Literal["release", "block"], typer.Option(help="release or block")],
    reviewer: Annotated[str, typer.Option(help="who reviewed (recorded)")],
    note: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Release (resume where it stopped) or block (disqualify) a held lead. The actor
    recorded is `cli:<os user>`."""
    from models.lead_state import ReviewDecision
    from starter.review_decisions import ReviewNotOpen, UnknownReview, decide_review

    request = cli_request(
        ReviewDecision, review_id=review_id, reviewer=reviewer, decision=decision, note=note
    )
    result = run_service(
        load_settings(),
        lambda client, db: decide_review(client, db, request),
        refusals=(UnknownReview, ReviewNotOpen),
    )
    print_result(result, as_json, f"review {result.review_id} {result.status} by {reviewer}")
