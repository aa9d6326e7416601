"""`scf`: the command line of the local stack.

scf local env [KEY]                   env.json of the running stack, as one JSON object (or one value):
                                      banks {code: {adapter, url?, accounts}}, outbound_bucket, partners...
scf local token --supplier ID | --ops a bearer token signed with the running stack's key
scf local clock show | set YYYY-MM-DD the business date every worker reads; set forward runs the
                                      daily job (the template's schedules) for each day passed, in order
scf local drop FILE KEY [--as P]      put FILE into the inbox at KEY with partner P's keys (default:
                                      the partner KEY's prefix names), wait for its report, print it
scf local report KEY                  print the report of the file at KEY
scf local events [--follow]           the domain events published so far, as JSON lines
                                      {detail_type, time, detail}; --follow: then new ones until Ctrl-C
scf demo                              the walking-skeleton loop, with a timeline
scf ops redrive QUEUE [--dry-run]     dead-lettered messages of QUEUE (repayments, disbursements,
                                      settlement_files) back to it; --stage NAME for a deployed stage
scf ops rerun-day DATE [--step S]     the daily job's messages for DATE again (local stack or --stage)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from infra.local.state import StackNotRunning, read_clock, read_env, write_clock


def _env() -> dict[str, Any]:
    return read_env()


def cmd_env(args: argparse.Namespace) -> int:
    env = _env()
    if args.key is None:
        print(json.dumps(env, sort_keys=True))
        return 0
    if args.key not in env:
        print(f"scf: env.json has no {args.key!r}; it has {', '.join(sorted(env))}", file=sys.stderr)
        return 1
    value = env[args.key]
    print(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    """As the platform or a bank drops a file: put it at the key, then wait for its report."""
    from infra.local.loop import LocalClient, LoopError

    content = Path(args.file).read_bytes()
    env = _env()
    local = LocalClient(env)
    before = local.report_version(args.key)
    try:
        local.upload(args.key, content, args.as_partner)  # the same bytes again: a DUPLICATE report
    except LoopError as exc:
        print(f"scf: {exc}", file=sys.stderr)
        return 1
    try:
        report = local.wait_report(args.key, timeout=args.timeout, after=before)
    except LoopError as exc:
        partners = ", ".join(f"{partner}/" for partner in env.get("partners", ["platform"]))
        print(f"scf: {exc} (is the key under a sender prefix: {partners}?)", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from infra.local.loop import LocalClient, report_key

    local = LocalClient(_env())
    try:
        body = local.s3.get_object(Bucket=local.env["inbox_bucket"], Key=report_key(args.key))["Body"].read()
    except local.s3.exceptions.NoSuchKey:
        print(f"scf: no report at {report_key(args.key)} (yet)", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(body), indent=2))
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from infra.local.events import printed, read_events

    path = Path(_env()["events_file"])
    try:
        for event in read_events(path, follow=args.follow):
            print(printed(event), flush=True)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from infra.local import tokens

    env = _env()
    private_key = Path(env["private_key_file"]).read_bytes()
    token = tokens.issue(
        private_key,
        env["token_issuer"],
        supplier_id=args.supplier,
        ops=args.ops,
        lifetime_seconds=int(args.hours * 3600),
    )
    print(token)
    return 0


def cmd_clock_show(_args: argparse.Namespace) -> int:
    print(read_clock(Path(_env()["clock_file"])).isoformat())
    return 0


def cmd_clock_set(args: argparse.Namespace) -> int:
    from infra.local.daily import DailyJobError, days_passed, fire

    env = _env()
    path = Path(env["clock_file"])
    before = read_clock(path)
    write_clock(path, args.date)
    try:
        # The clock stands on the new date; the days passed run in order before this returns.
        fire(env, days_passed(before, args.date))
    except DailyJobError as exc:
        print(f"scf: {exc}", file=sys.stderr)
        return 1
    print(read_clock(path).isoformat())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from infra.local.loop import LoopError, Step, run_loop

    env = _env()

    def show(step: Step) -> None:
        print(f"  {step.name:<34} {step.ms:9.1f} ms  {step.detail}", flush=True)

    print(f"scf demo against {env['api_url']} (business date {read_clock(Path(env['clock_file']))})")
    try:
        result = run_loop(env, amount=args.amount, term_days=args.term_days, on_step=show)
    except LoopError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    total = sum(step.ms for step in result.timeline.steps)
    loan = result.loan_repaid
    print(f"  {'total':<34} {total:9.1f} ms")
    print(
        f"supplier {result.supplier_id}: loan {loan.get('loan_id')} {' -> '.join(result.loan_statuses)}, "
        f"value {result.loan_active.get('value_date')} maturity {result.loan_active.get('maturity_date')}, "
        f"application to ACTIVE {result.application_to_active_ms:.0f} ms"
    )
    return 0


def _ops_target(args: argparse.Namespace) -> Any:
    """The running local stack, or with --stage/--stack the deployed CloudFormation stack (AWS
    credentials and region from the environment, as the AWS CLI takes them)."""
    from infra.ops.target import local_target, stage_target

    if args.stack or args.stage:
        stack = args.stack
        if not stack:
            from infra.app import cdk_json_context
            from infra.constructs.config import STAGES_CONTEXT, stage_config

            stack = stage_config(args.stage, cdk_json_context().get(STAGES_CONTEXT)).stack_name
        return stage_target(stack)
    return local_target()


def cmd_ops_redrive(args: argparse.Namespace) -> int:
    from infra.ops.redrive import redrive
    from infra.ops.target import TargetError

    try:
        result = redrive(_ops_target(args), args.queue, dry_run=args.dry_run, limit=args.max)
    except TargetError as exc:
        print(f"scf: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.as_json(), sort_keys=True))
    return 1 if result.failed else 0


def cmd_ops_rerun_day(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from infra.local.daily import DailyJobError
    from infra.ops.rerun import rerun_day
    from infra.ops.target import TargetError

    try:
        target = _ops_target(args)
        if args.stack or args.stage:  # today in the schedules' (the policy's) time zone
            zone = target.schedules[0].timezone if target.schedules else "UTC"
            today = datetime.now(ZoneInfo(zone)).date()
        else:
            today = read_clock(Path(_env()["clock_file"]))
        wait = None if args.no_wait else args.wait
        sent = rerun_day(target, args.date, today=today, steps=tuple(args.step or ()), wait_seconds=wait)
    except (TargetError, DailyJobError) as exc:
        print(f"scf: {exc}", file=sys.stderr)
        return 1
    for message in sent:
        print(json.dumps({"step": message.step, "business_date": args.date.isoformat(), "sent": True}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scf", description="scf on this machine")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the running local stack").add_subparsers(
        dest="local", required=True
    )
    env = local.add_parser("env", help="print env.json as one JSON object, or one of its values")
    env.add_argument("key", nargs="?", help="print only this value, e.g. api_url (strings unquoted)")
    env.set_defaults(run=cmd_env)

    token = local.add_parser("token", help="print a bearer token for the local API")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--supplier", metavar="ID", help="a supplier's token (custom:supplier_id)")
    who.add_argument("--ops", action="store_true", help="an ops reviewer's token (group ops)")
    token.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12)")
    token.set_defaults(run=cmd_token)

    clock = local.add_parser("clock", help="the business date").add_subparsers(dest="clock", required=True)
    clock.add_parser("show", help="print the business date").set_defaults(run=cmd_clock_show)
    setter = clock.add_parser("set", help="set the business date")
    setter.add_argument("date", type=date.fromisoformat, help="YYYY-MM-DD")
    setter.set_defaults(run=cmd_clock_set)

    drop = local.add_parser("drop", help="put a file into the inbox, wait for its report and print it")
    drop.add_argument("file", help="the file to send")
    drop.add_argument("key", help="its key in the inbox: <sender>/<any path>/<name>, e.g. platform/x/a.csv")
    drop.add_argument(
        "--as",
        dest="as_partner",
        metavar="PARTNER",
        help="upload with this partner's keys (default: the partner the key's prefix names)",
    )
    drop.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the report")
    drop.set_defaults(run=cmd_drop)
    report = local.add_parser("report", help="print the report of the file at KEY")
    report.add_argument("key", help="the file's key in the inbox (not the report's)")
    report.set_defaults(run=cmd_report)

    events = local.add_parser("events", help="print the domain events published so far, as JSON lines")
    events.add_argument("--follow", action="store_true", help="keep printing new events until Ctrl-C")
    events.set_defaults(run=cmd_events)
    ops = commands.add_parser("ops", help="back-office commands: local stack, or --stage NAME deployed")
    ops_commands = ops.add_subparsers(dest="ops", required=True)
    redrive = ops_commands.add_parser("redrive", help="move dead-lettered messages back to their queue")
    redrive.add_argument("queue", help="the queue (or its _dlq): repayments, disbursements, settlement_files")
    redrive.add_argument("--dry-run", action="store_true", help="count what would move; move nothing")
    redrive.add_argument("--max", type=int, default=None, help="move at most this many")
    rerun = ops_commands.add_parser("rerun-day", help="send the daily job's messages for DATE again")
    rerun.add_argument("date", type=date.fromisoformat, help="the business date, YYYY-MM-DD")
    rerun.add_argument("--step", action="append", help="only this step (repeatable), e.g. OVERDUE")
    rerun.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the queues to drain")
    rerun.add_argument("--no-wait", action="store_true", help="send and return")
    for command in (redrive, rerun):
        where = command.add_mutually_exclusive_group()
        where.add_argument("--stage", help="a deployed stage of cdk.json (its stack, AWS credentials)")
        where.add_argument("--stack", help="a deployed stack by name")
    redrive.set_defaults(run=cmd_ops_redrive)
    rerun.set_defaults(run=cmd_ops_rerun_day)

    demo = commands.add_parser("demo", help="run the loop against the running stack, with timings")
    demo.add_argument("--amount", default="100000.00")
    demo.add_argument("--term-days", type=int, default=30)
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except StackNotRunning as exc:
        print(f"scf: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `scf ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
