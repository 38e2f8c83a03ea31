"""The ``yuebao`` command: demo, run, backfill, sample-data (interfaces.md).

Arguments, the config and the exports are checked here before Prefect starts,
so a usage mistake costs no server start-up and ends in one clear line and exit
status 2. Each command then runs as a Prefect flow (ephemeral unless
``PREFECT_API_URL`` is set), so runs from the shell show up in the Prefect UI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from yuebao.config import load_config
from yuebao.errors import RunFailed, UsageError, one_line
from yuebao.months import Month

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STYLES = ("zh-generic", "canonical")  # tasks.sample_data.STYLES, not imported: keeps start-up light
STYLE_HELP = ("exports as real systems write them, per community: Chinese headers, GBK, "
              "Excel (zh-generic, the default), or yuebao's own CSV format (canonical)")

RUNNER_HELP = ("where the tasks run (default: the config's task_runner, else threads): threads, "
               "processes, dask://HOST:PORT or dask-local:N")


def _month(text: str) -> str:
    try:
        return str(Month.parse(text))
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yuebao", description="物业月报草稿：工单与收费数据 → 月度工作总结与下月计划")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="sample exports, one month end to end, to the outbox")
    demo.add_argument("--out", type=Path, default=Path("demo"),
                      help="folder for the sample exports, config and outputs (default: ./demo)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the sample data")
    demo.add_argument("--style", choices=STYLES, default="zh-generic", help=STYLE_HELP)

    run = commands.add_parser("run", help="one month (default: the last complete month)")
    run.add_argument("--config", type=Path, required=True, help="the config TOML file")
    run.add_argument("--month", help="YYYY-MM (default: the last complete month)")
    run.add_argument("--community", action="append", dest="communities", metavar="ID",
                     help="only this community's review (repeatable; _portfolio for the roll-up)")
    run.add_argument("--no-send", action="store_true", help="write the files, send no email")
    run.add_argument("--resend", action="store_true",
                     help="send again drafts the ledger says were already sent")
    run.add_argument("--task-runner", metavar="SPEC", help=RUNNER_HELP)

    backfill = commands.add_parser("backfill", help="many months, a status table at the end")
    backfill.add_argument("--config", type=Path, required=True, help="the config TOML file")
    backfill.add_argument("--from", dest="first", required=True, type=_month, metavar="YYYY-MM")
    backfill.add_argument("--to", dest="last", required=True, type=_month, metavar="YYYY-MM")
    backfill.add_argument("--reprocess", choices=["none", "failed", "all"], default="none",
                          help="re-run months that failed, or all (default: only new months)")
    backfill.add_argument("--send", action="store_true", help="email the drafts (default: no)")
    backfill.add_argument("--resend", action="store_true",
                          help="with --send: send again drafts the ledger says were sent, or "
                               "whose delivery is uncertain")
    backfill.add_argument("--dry-run", action="store_true", help="list the months, run nothing")
    backfill.add_argument("--max-parallel", type=int, default=1, metavar="N",
                          help="run up to N months at once, each its own flow run (default: 1)")
    backfill.add_argument("--task-runner", metavar="SPEC", help=RUNNER_HELP)

    validate = commands.add_parser("validate", help="read and map the exports, show rejects")
    validate.add_argument("--config", type=Path, required=True, help="the config TOML file")
    validate.add_argument("--month", type=_month, help="also count the month's rows")

    sample = commands.add_parser("sample-data", help="generate realistic sample exports")
    sample.add_argument("--out", type=Path, required=True, help="folder to write into")
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--communities", type=int, default=4)
    sample.add_argument("--months", type=int, default=24)
    sample.add_argument("--scale", type=float, default=1.0)
    sample.add_argument("--style", choices=STYLES, default="zh-generic", help=STYLE_HELP)
    for command in (run, backfill, validate):
        command.add_argument("--no-cache", action="store_true",
                             help="read every export again; neither use nor fill the cache")
    return parser


def _check_run(config_path: Path, sending: bool) -> None:
    """Everything that would make the run a usage error, found before Prefect starts."""
    from yuebao.tasks.fetch import check_sources

    config = load_config(config_path)
    check_sources(config)  # local files exist, remote ones' secrets are set
    smtp = config.delivery.smtp
    if sending and config.delivery.method == "smtp" and smtp and not smtp.password_block:
        from yuebao.tasks.deliver import smtp_password

        smtp_password(smtp)  # a Prefect block can only be checked once Prefect runs


def _print_run(result: dict) -> None:
    print(f"\n{result['month']} 月报草稿已生成：{result['output_dir']}")
    for scope, path in result["reviews"].items():
        print(f"  {scope}: {path}  {result['spreadsheets'][scope]}")
    for delivery in result["deliveries"]:
        target = delivery["eml"] or ", ".join(delivery["to"])
        detail = f" ({delivery['detail']})" if delivery["detail"] else ""
        print(f"  邮件 {delivery['scope']}: {delivery['status']} → {target}{detail}")


def _print_backfill(rows: list[dict]) -> None:
    print(f"\n{'月份':<8} {'范围':<16} {'状态':<10} 说明")
    for row in rows:
        print(f"{row['month']:<10} {row['scope']:<18} {row['status']:<12} {row['detail']}")


def _print_summary(rows: list[dict], language: str) -> None:
    """The failed run's table: month, scope, recipient, status and the server's words."""
    from yuebao.words import labels

    header = labels(language)["run"]["summary_header"]
    print("\n" + " | ".join(header))
    for row in rows:
        print(" | ".join(str(row[key]) for key in
                         ("month", "scope", "recipient", "status", "detail")))


def _language(config_path: Path | None) -> str:
    try:
        return load_config(config_path).language if config_path else "zh"
    except UsageError:
        return "zh"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in ("run", "backfill", "validate"):
            if args.no_cache:  # seen by ingest here and in any worker this process starts
                os.environ["YUEBAO_CACHE"] = "off"
            sending = ((args.command == "run" and not args.no_send)
                       or (args.command == "backfill" and args.send))
            _check_run(args.config, sending)
            if getattr(args, "task_runner", None):
                from yuebao.runners import check_spec

                check_spec(args.task_runner)
            if getattr(args, "month", None):
                Month.parse(args.month)
            if args.command == "backfill" and args.first > args.last:
                raise UsageError(f"--from {args.first} is after --to {args.last}")
            if args.command == "backfill" and args.max_parallel < 1:
                raise UsageError(f"--max-parallel must be at least 1, not {args.max_parallel}")
        if args.command == "sample-data" and (args.communities < 1 or args.months < 1
                                              or args.scale <= 0):
            raise UsageError("sample-data needs --communities >= 1, --months >= 1, --scale > 0")
    except UsageError as error:
        print(f"yuebao: {error}", file=sys.stderr)
        return EXIT_USAGE

    from yuebao.prefect_env import quiet_expected_errors

    try:
        import prefect  # noqa: F401  (sets up Prefect's logging, which the filter joins)

        quiet_expected_errors(UsageError, RunFailed)
        if args.command == "demo":
            from yuebao.flows.demo import demo

            _print_run(demo(str(args.out), args.seed, args.style))
        elif args.command == "run":
            from yuebao.flows.monthly_review import monthly_review

            _print_run(monthly_review(str(args.config), args.month, args.communities,
                                      send=not args.no_send, resend=args.resend,
                                      task_runner=args.task_runner))
        elif args.command == "backfill":
            from yuebao.flows.monthly_review import backfill

            _print_backfill(backfill(str(args.config), args.first, args.last, args.reprocess,
                                     args.send, args.dry_run, args.resend, args.max_parallel,
                                     task_runner=args.task_runner))
        elif args.command == "validate":
            from yuebao.flows.monthly_review import validate_exports

            print(validate_exports(str(args.config), args.month))
        elif args.command == "sample-data":
            from yuebao.flows.demo import sample_data

            result = sample_data(str(args.out), args.seed, args.communities, args.months,
                                 args.scale, args.style)
            print(f"\n样例数据已写入 {result['exports_dir']}，配置文件 {result['config']}")
    except UsageError as error:
        print(f"yuebao: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RunFailed as error:
        result = error.result or {}
        if "rows" in result:
            _print_backfill(result["rows"])
        elif error.summary:
            if "reviews" in result:
                _print_run(result)
            _print_summary(error.summary, _language(getattr(args, "config", None)))
        print(f"yuebao: {one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # the flow's failure, already logged in full by Prefect
        text = one_line(error)
        if "ephemeral Prefect API server" in text:
            text = ("Prefect's temporary server did not start in time (a busy machine?): set "
                    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher (now "
                    f"{os.environ.get('PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS')} s), "
                    "or start one with 'prefect server start' and set "
                    "PREFECT_API_URL=http://127.0.0.1:4200/api")
        print(f"yuebao: {args.command} failed: {type(error).__name__}: {text[:2000]}",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
