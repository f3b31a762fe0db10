"""`rig billing readback import`: card readbacks from a JSON file into the centre, which
verifies each MAC itself and reconciles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.cli.billing_open import Db, ReadbackKeyFile, fail, open_centre, out, readback_keys
from rig.errors import RigError

readback_app = typer.Typer(no_args_is_help=True, help="Readbacks: import from JSON.")


@readback_app.command("import")
def readback_import(file: Annotated[Path, typer.Argument(help="JSON: one readback or a list")],
                    db: Db = DEFAULT_URL,
                    readback_key_file: ReadbackKeyFile = None) -> None:
    """Import readbacks (fields as in POST /readbacks, with raw_hex: the centre verifies each
    MAC itself; one without raw_hex, or whose MAC fails, is stored unverified and confirms
    nothing). All are validated before any is stored; each is stored and reconciled in order,
    and a refusal stops the import naming the item."""
    from pydantic import ValidationError

    from rig.billing.api.schemas import ReadbackIn
    from rig.billing.types import ReadbackData

    try:
        doc = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"{file}: cannot read JSON: {e}") from None
    items = doc if isinstance(doc, list) else [doc]
    parsed: list[ReadbackIn] = []
    for i, item in enumerate(items):
        try:
            parsed.append(ReadbackIn.model_validate(item))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(str(p) for p in x['loc']) or 'item'}: {x['msg']}"
                                 for x in e.errors())
            raise fail(f"{file}: readback {i}: {problems} (nothing imported)") from None
    with open_centre(db, keys=readback_keys(readback_key_file)) as c:
        for i, rb in enumerate(parsed):
            raw = bytes.fromhex(rb.raw_hex) if rb.raw_hex is not None else None
            try:
                result = c.ingest_readback(
                    ReadbackData(**rb.model_dump(
                        exclude={"card_serial", "raw_hex", "mac_verified"})),
                    card_serial=rb.card_serial, raw=raw)
            except RigError as e:
                stored = f"readbacks 0..{i - 1} were stored" if i else "nothing was stored"
                raise fail(f"{file}: readback {i} (meter {rb.meter_no}) refused: {e}; "
                           f"{stored}") from None
            failed = ", ".join(ch.name for ch in result.failed)
            colour = "green" if not failed else "red"
            mac = result.evidence.get("mac", {})
            verified = ("MAC verified by the centre" if mac.get("verified_by_centre")
                        else f"UNVERIFIED: {mac.get('reason', 'MAC not verified')}")
            out.print(f"readback {i}: meter {result.meter_no} [{colour}]{result.verdict.value}"
                      f"[/]{f' (failed: {failed})' if failed else ''}; {verified}; confirmed "
                      f"vends {list(result.confirmed_vend_ids)}", highlight=False)
