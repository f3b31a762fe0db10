"""Run the vending console on its own, or set an operator's console password.

    python -m rig.station.console serve --db sqlite:///billing.sqlite --station DESK-1 \\
        --reader "Virtual PCD 00 01" --master-key-file lab.key --port 8080
    python -m rig.station.console set-password --db sqlite:///billing.sqlite carol

The password is read from the terminal without echo (or from stdin when piped), never from
the command line, where other users could see it in the process list.
"""

from __future__ import annotations

import argparse
import sys

from rig.billing import open_billing
from rig.billing.passwords import PasswordPolicyError, read_new_password
from rig.card.keys import MasterKey
from rig.errors import RigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rig.station.console")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the console (uvicorn)")
    serve.add_argument("--db", default="sqlite:///billing.sqlite", help="billing database URL")
    serve.add_argument("--station", required=True, help="code of this vending station")
    serve.add_argument("--reader", help="PC/SC reader of the station's card writer")
    serve.add_argument("--master-key-file", help="issuer master key (else $RIG_MASTER_KEY)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--insecure-cookies", action="store_true",
                       help="allow the session cookie over plain HTTP (loopback only)")
    serve.add_argument("--session-idle-minutes", type=int, default=60,
                       help="a login session ends after this long unused")
    serve.add_argument("--session-max-hours", type=int, default=12,
                       help="a login session ends this long after login")
    pw = sub.add_parser("set-password", help="set an operator's console password")
    pw.add_argument("--db", default="sqlite:///billing.sqlite")
    pw.add_argument("operator")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    centre = open_billing(args.db)
    try:
        if args.command == "set-password":
            centre.set_password(args.operator, read_new_password())
            print(f"password of {args.operator} set")
            return 0
        import uvicorn

        from rig.billing.api.body_limit import BodyLimit
        from rig.station.console import PcscCardWriter, create_console_app

        writer = None
        if args.reader:
            key = (MasterKey.from_file(args.master_key_file) if args.master_key_file
                   else MasterKey.from_env())
            writer = PcscCardWriter(centre, key, args.reader)
        app = create_console_app(centre, station=args.station, writer=writer,
                                 secure_cookies=not args.insecure_cookies,
                                 idle_timeout_s=args.session_idle_minutes * 60.0,
                                 session_max_age_s=args.session_max_hours * 3600.0)
        # The same cap on request bodies as `rig billing serve`, before login and parsing.
        uvicorn.run(BodyLimit(app), host=args.host, port=args.port, log_level="info")
        return 0
    except (RigError, PasswordPolicyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        centre.close()


if __name__ == "__main__":
    raise SystemExit(main())
