"""`rig card …`: card-format tools. `rig card formats` lists the installed card formats;
`rig card replay TRACE --against card|meter` checks a card or a meter against a saved APDU
trace (a run's `apdu-trace.jsonl`, docs/card-formats.md "APDU traces").

Bad input (a missing or malformed trace, a format not installed) is one line on stderr and
exit code 2; a replay that differs exits 1, a clean one 0.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rig.errors import RigError
from rig.profile_names import DEFAULT_PROFILE

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Card formats: list them, replay a saved APDU trace against a card or "
                  "a meter.")


class Against(StrEnum):
    CARD = "card"
    METER = "meter"


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(2)


@app.command("formats")
def formats() -> None:
    """The installed card formats (the values a profile's \\[card] format may take)."""
    from rig.card_formats.registry import card_format, names

    for name in names():
        fmt = card_format(name)
        kinds = ", ".join(sorted(k.value for k in fmt.kinds))
        options = "; ".join(f"{k}: {', '.join(v)}" for k, v in fmt.options.items()) or "none"
        typer.echo(f"{name}: {fmt.description} (cards: {kinds}; options: {options})")


@app.command("replay")
def replay(
    trace_file: Annotated[Path, typer.Argument(help="a saved APDU trace (JSON lines)")],
    against: Annotated[Against, typer.Option(help="card: a blank virtual card of the trace's "
                                             "format; meter: an emulated meter of --profile")]
    = Against.CARD,
    profile: Annotated[str | None, typer.Option(help="the meter's profile (--against meter)")]
    = None,
    profiles_dir: Annotated[Path | None, typer.Option(help="your meter profiles")] = None,
    card: Annotated[Path | None, typer.Option(help="a saved virtual card (rig sim's card "
                                              "file) to replay against instead of a blank "
                                              "one (--against card)")] = None,
) -> None:
    """Replay the trace's commands and report each exchange that differs (step, command,
    both status words). A secret the trace redacted is presented as this lab's own (its
    $RIG_MASTER_KEY, else the lab test key) where the card format can, else the exchange is
    skipped and counted, never guessed."""
    from rig.card.trace import load_trace
    from rig.card_formats.interface import MasterKeys
    from rig.sim import card_replay
    from rig.sim.emulated_bench import lab_master_key

    try:
        trace = load_trace(trace_file)
        if against is Against.CARD:
            app_ = None
            if card is not None:
                from rig.sim.virtual_card import VirtualCard

                saved = VirtualCard.load(card)
                if saved.format_name != trace.card_format:
                    raise ValueError(f"card {card} is of card format {saved.format_name!r}, "
                                     f"the trace of {trace.card_format!r}")
                app_ = saved.app
            report = card_replay.replay_against_card(trace, app_,
                                                     keys=MasterKeys(lab_master_key()))
        else:
            from rig.profile import load_profile

            meter = load_profile(profile or DEFAULT_PROFILE, profiles_dir)
            report = card_replay.replay_against_meter(trace, meter, lab_master_key())
    except (RigError, ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(report.to_text())
    raise typer.Exit(0 if report.clean else 1)
