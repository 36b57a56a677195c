"""`leadflow simulate`: what the program would decide for a journey, offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from starter.cli.connections import load_settings
from starter.cli.output import JsonOption, console, fail, quiet_logs

if TYPE_CHECKING:
    from starter.simulate import Simulation

app = typer.Typer()


@app.command()
def simulate(
    journey: Annotated[Path, typer.Argument(help="JSON or YAML file: a list of events")],
    program: Annotated[
        Path | None, typer.Option(help="program file (default: LEADFLOW_PROGRAM)")
    ] = None,
    days: Annotated[float, typer.Option(help="keep the cadence running this long after")] = 30,
    as_json: JsonOption = False,
) -> None:
    """What the program would decide for a journey, offline: stages, scores, tracks, touches
    (taken as sent) and routing, from the same engine the lead workflow runs."""
    from datetime import timedelta

    from models.program import ProgramError, load_program
    from starter.simulate import SimulationError, read_journey
    from starter.simulate import as_json as simulation_json
    from starter.simulate import simulate as run_simulation

    quiet_logs()
    try:
        loaded = load_program(program or load_settings().program)
        result = run_simulation(loaded, read_journey(journey), timedelta(days=days))
    except (ProgramError, SimulationError) as err:
        fail(str(err), 2)
    if as_json:
        print(simulation_json(result))
        return
    _print_simulation(loaded.version, result)


def _print_simulation(program_version: str, result: Simulation) -> None:
    """The program's version, its decisions one a line, then where the lead ended."""
    console.print(f"program {program_version}", highlight=False)
    for d in result.decisions:  # one line each, so it greps and diffs well
        line = f"{d.at:%Y-%m-%d %H:%M}  {d.rule_id:<28} {d.outcome}  [{d.trigger}]"
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    state = result.state
    console.print(
        f"stage {state.stage.value}, track {state.track}, fit {state.score.fit}, "
        f"engagement {state.score.engagement:.1f}, touches sent {len(state.touches)}",
        highlight=False,
    )
