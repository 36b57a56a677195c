"""`leadflow task list|accept|reject|close`: CRM tasks."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from starter.cli.actor import cli_request
from starter.cli.connections import load_settings, open_database, run_service
from starter.cli.output import JsonOption, console, print_json, print_result

app = typer.Typer(help="CRM tasks: leads routed to queues, waiting for the team to act.")


@app.command("list")
def task_list(
    queue: Annotated[str | None, typer.Option(help="only this queue")] = None,
    status: Annotated[
        str | None, typer.Option(help="open | accepted | rejected | closed | escalated")
    ] = None,
    lead: Annotated[str | None, typer.Option(help="only this lead's tasks")] = None,
    as_json: JsonOption = False,
) -> None:
    """CRM tasks, newest first: queue, status, why, SLA due time."""
    from rich.table import Table

    from models.queries import list_tasks, task_view

    db = open_database(load_settings())
    views = [task_view(t) for t in list_tasks(db, queue=queue, status=status, lead_id=lead)]
    if as_json:
        print_json(views)
        return
    table = Table("task", "lead", "queue", "status", "rule", "due", "actor")
    for v in views:
        table.add_row(
            v["task_id"],
            v["lead_id"],
            v["queue"],
            v["status"],
            v["rule_id"],
            v["due_at"] or "",
            v["actor"] or "",
        )
    console.print(table)


def _task_action(action_args: dict[str, Any], as_json: bool) -> None:
    """Act on a task as `cli:<os user>`: a bad request exits 2, a refused one 1."""
    from models.routing import TaskAction
    from starter.task_actions import TaskNotOpen, UnknownTask, act_on_task

    # The task's one cross-field check is that a rejection has a reason.
    action = cli_request(TaskAction, unnamed="reason", **action_args)
    result = run_service(
        load_settings(),
        lambda client, db: act_on_task(client, db, action),
        refusals=(UnknownTask, TaskNotOpen),
    )
    line = f"task {result.task_id} {result.status}; lead stage {result.stage.value}"
    print_result(result, as_json, line + (f", track {result.track}" if result.track else ""))


@app.command("accept")
def task_accept(
    task_id: str,
    note: Annotated[str | None, typer.Option(help="recorded with the acceptance")] = None,
    as_json: JsonOption = False,
) -> None:
    """Accept a task (the actor recorded is `cli:<os user>`)."""
    _task_action({"task_id": task_id, "action": "accept", "note": note}, as_json)


@app.command("reject")
def task_reject(
    task_id: str,
    reason: Annotated[
        str,
        typer.Option(
            help="not_ready | wrong_contact | no_fit | duplicate | competitor | no_consent"
        ),
    ],
    note: Annotated[str | None, typer.Option(help="recorded with the rejection")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a task with a reason code: the lead goes back to nurture on the reason's track."""
    _task_action({"task_id": task_id, "action": "reject", "reason": reason, "note": note}, as_json)


@app.command("close")
def task_close(
    task_id: str,
    outcome: Annotated[str, typer.Option(help="e.g. won, lost, no_decision")],
    note: Annotated[str | None, typer.Option(help="recorded with the outcome")] = None,
    as_json: JsonOption = False,
) -> None:
    """Close a task with its outcome."""
    _task_action({"task_id": task_id, "action": "close", "outcome": outcome, "note": note}, as_json)
