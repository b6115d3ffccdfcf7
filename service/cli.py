"""The ``accountability`` command line."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .auth import ROLES
from .decisions import Catalog, DecisionError, DmnLoadError, load_catalog, needed_inputs
from .deployments import deployed_dir, forms_dir, processes_dir


def _catalog(file: str | None) -> Catalog:
    try:
        return load_catalog([file] if file else [processes_dir()])
    except DmnLoadError as exc:
        raise click.ClickException("the decision tables cannot be loaded:\n" + "\n".join(
            f"  {p}" for p in exc.problems)) from None


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """明山区行政执法过错责任追究 — decisions, procedure and case service."""


@main.command()
@click.argument("decision")
@click.option("--input", "input_json", required=True, metavar="JSON",
              help='Inputs as a JSON object, e.g. \'{"exemption_ground": 2}\'; "-" reads standard input.')
@click.option("--file", "file", type=click.Path(dir_okay=False), metavar="PATH",
              help="Evaluate a decision of this DMN 1.1-1.5 file instead of the deployed processes/.")
def decide(decision: str, input_json: str, file: str | None) -> None:
    """Evaluate DECISION (id or name) and print {"outputs": ..., "trace": ...} as JSON."""
    text = sys.stdin.read() if input_json == "-" else input_json
    try:
        inputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                                 param_hint="--input") from None
    if not isinstance(inputs, dict):
        raise click.BadParameter('must be a JSON object of input names and values, e.g. {"severity": "minor"}',
                                 param_hint="--input")
    catalog = _catalog(file)
    try:
        result = catalog.evaluate(decision, inputs)
    except DecisionError as exc:
        raise click.ClickException(str(exc)) from None
    _dump(result.to_json())


@main.command()
@click.option("--file", "file", type=click.Path(dir_okay=False), metavar="PATH",
              help="List the decisions of this DMN file instead of the deployed processes/.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def tables(file: str | None, as_json: bool) -> None:
    """List the decisions with their inputs, outputs and hit policy."""
    catalog = _catalog(file)
    rows = []
    for d in catalog.decisions:
        t = d.table
        rows.append({
            "id": d.id, "name": d.name, "file": d.file, "version": d.version,
            "hit_policy": t.hit_policy_label if t else "LITERAL EXPRESSION",
            "inputs": ([{"expression": c.text, "label": c.label, "type": c.type_ref,
                         "allowed": c.allowed.text if c.allowed else None} for c in t.inputs]
                       if t else [{"expression": n, "label": None, "type": None, "allowed": None}
                                  for n in needed_inputs(d)]),
            "outputs": ([{"name": o.name, "label": o.label, "type": o.type_ref, "values": o.values_text}
                         for o in t.outputs] if t else [{"name": d.name, "label": None, "type": d.type_ref,
                                                          "values": None}]),
            "rules": len(t.rules) if t else 0,
        })
    if as_json:
        _dump(rows)
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['name']}  [{r['hit_policy']}, {r['rules']} rules]  {r['file']}")
        for i in r["inputs"]:
            extra = f"  allowed: {i['allowed']}" if i["allowed"] else ""
            click.echo(f"  in   {i['expression']}: {i['type'] or 'any'}  {i['label'] or ''}{extra}")
        for o in r["outputs"]:
            extra = f"  values: {o['values']}" if o["values"] else ""
            click.echo(f"  out  {o['name']}: {o['type'] or 'any'}  {o['label'] or ''}{extra}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check BPMN, DMN and form files (default: processes/ and forms/); exit 1 on any problem."""
    from .validation import validate as run_validation

    targets = list(paths) or [processes_dir(), forms_dir()]
    problems, checked = run_validation(targets, default_processes=processes_dir(), default_forms=forms_dir())
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {checked} file(s)")
    click.echo(f"OK: {checked} files checked, no problems")


# ====================================================================== the case service

def _services(*, initialised: bool = True):
    """The services on $DATABASE_URL; unless ``initialised`` is False, refuse a database without the current schema."""
    from .web import build_services
    services = build_services(os.environ.get("DATABASE_URL"))
    if initialised and services.db.pending_migrations():
        raise click.ClickException("the database is not initialised or its schema is behind: "
                                   "run `accountability init` first")
    return services


MIN_PASSWORD = 10


def password_problem(name: str, password: str) -> str | None:
    """Why a chosen password is too weak (None when it will do)."""
    if len(password) < MIN_PASSWORD:
        return f"use at least {MIN_PASSWORD} characters"
    if password.isdigit() or password.isalpha():
        return "mix letters with digits or other characters"
    if name.lower() in password.lower():
        return "do not put the user name in the password"
    if len(set(password)) < 4:
        return "use more different characters"
    return None


@main.command()
def init() -> None:
    """Migrate the database ($DATABASE_URL, default instance/accountability.db) and deploy processes/."""
    services = _services(initialised=False)
    services.db.migrate()
    _deploy(services, by="init")


def _deploy(services, by: str) -> int:
    from .bundle import Bundle
    from .errors import Invalid

    try:
        outcome = services.deployments.publish(Bundle.from_folders(processes_dir(), forms_dir()), by)
    except Invalid as exc:
        for where, message in exc.fields.items():
            click.echo(f"{where}: {message}", err=True)
        raise click.ClickException("not deployed: fix the problems above (see `accountability validate`)") from None
    if outcome.created:
        click.echo(f"deployed version {outcome.version}, now the live version")
    elif outcome.reactivated:
        click.echo(f"these files are version {outcome.version}: it is the live version again "
                   f"(was version {outcome.previous})")
    else:
        click.echo(f"no changes: version {outcome.version} is current (the live version)")
    return outcome.version


@main.command()
@click.option("--activate", "activate", type=int, metavar="N",
              help="Make the deployed version N the live one again (roll back) instead of deploying processes/.")
@click.option("--by", "by", default=None, metavar="NAME",
              help="Who does it, for the audit record (default: $USER).")
def deploy(activate: int | None, by: str | None) -> None:
    """Validate processes/ and forms/ and make them the live version (a new one if they differ from every deployed
    version); with --activate N, make version N live again. New cases start on the live version."""
    from .errors import Invalid, NotFound

    services = _services()
    who = by or os.environ.get("USER") or "cli"
    if activate is None:
        _deploy(services, by=who)
        return
    try:
        previous = services.deployments.activate(activate, who, "rollback")
    except NotFound:
        raise click.ClickException(f"there is no version {activate}") from None
    except Invalid as exc:
        for where, message in exc.fields.items():
            click.echo(f"{where}: {message}", err=True)
        raise click.ClickException(f"version {activate} was not made live: the problems above") from None
    if previous is None:
        click.echo(f"version {activate} is the live version already")
    else:
        click.echo(f"version {activate} is the live version again (was version {previous})")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, type=click.Choice(list(ROLES)),
              help="May be given several times. Without a role: an ordinary officer (who can be a subject).")
@click.option("--unit", help="The user's section or unit.")
@click.option("--display-name", help="The name shown in pages.")
@click.option("--post", help="The user's post (职务), printed in the decisions served on them.")
@click.option("--password", help=f"At least {MIN_PASSWORD} characters, letters mixed with digits or signs. "
                                  "Without it a password is generated and printed.")
@click.option("--email", help="Where reminders and escalations are mailed too (when SMTP is configured).")
def user_add(name: str, roles: tuple[str, ...], unit: str | None, display_name: str | None, post: str | None,
             password: str | None, email: str | None) -> None:
    """Add user NAME."""
    import re
    import secrets

    from .auth import hash_password
    from .store.repository import Store

    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise click.BadParameter("use letters, digits, '_', '.' or '-' (at most 64)", param_hint="NAME")
    if password is not None and (problem := password_problem(name, password)):
        raise click.BadParameter(f"too weak: {problem} (or leave it out to get a generated one)",
                                 param_hint="--password")
    if email is not None and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,63}", email.strip()):
        raise click.BadParameter("an e-mail address such as li@example.org", param_hint="--email")
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    services = _services()
    with services.db.session() as s, s.begin():
        store = Store(s)
        if store.user(name) is not None:
            raise click.ClickException(f"user {name} exists already")
        store.add_user(name, display_name=display_name or name, unit=unit, password_hash=hash_password(password),
                       roles=roles, email=email.strip() if email else None).post = post
        store.log(None, None, "user_added", username=name, roles=sorted(roles))
    click.echo(f"added {name} ({', '.join(roles) or 'officer'})" + (f"; password: {password}" if generated else ""))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=8, show_default=True, type=int, help="Worker threads of each server process.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes behind the one address: 1 serves on waitress in this process; more run "
                   "gunicorn with that many worker processes (one Python process uses one core).")
@click.option("--timers/--no-timers", default=True, show_default=True,
              help="Fire due timers beside the web server (a thread, or one `timers` process with --processes); "
                   "--no-timers when `accountability timers` workers run on their own.")
@click.option("--timer-interval", default=30.0, show_default=True, type=float,
              help="The timer loop's longest sleep; it wakes at the next due time.")
def serve(host: str, port: int, workers: int, processes: int, timers: bool, timer_interval: float) -> None:
    """Run the web app on a production WSGI server (waitress, or gunicorn with --processes) with the timers."""
    import threading

    services = _services()
    if services.db.pending_migrations():
        raise click.ClickException("the database schema is not up to date: run `accountability init` first")
    if processes > 1:
        services.db.dispose()
        _serve_processes(host, port, processes, workers, timers, timer_interval, services.db.url)
        return
    from waitress import serve as waitress_serve

    from .web import create_app

    app = create_app(services=services)
    stop = threading.Event()
    if timers:
        threading.Thread(target=_timer_loop, args=(services, timer_interval, stop), daemon=True,
                         name="timers").start()
    click.echo(f"serving on http://{host}:{port}/  (API: /api/v1, OpenAPI: /api/v1/openapi.json)")
    try:
        waitress_serve(app, host=host, port=port, threads=workers, ident="accountability")
    finally:
        stop.set()


def _serve_processes(host: str, port: int, processes: int, threads: int, timers: bool, interval: float,
                     url: str) -> None:
    """gunicorn with ``processes`` worker processes (each builds its own app and database pool after the fork),
    and one `accountability timers` process beside it."""
    import os
    import subprocess
    import sys

    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": processes, "threads": threads,
                               "worker_class": "gthread", "timeout": 120, "graceful_timeout": 20,
                               "proc_name": "accountability", "accesslog": None,
                               "control_socket_disable": True}.items():
                if key in self.cfg.settings:  # (the control socket came with gunicorn 24)
                    self.cfg.set(key, value)

        def load(self):
            from .web import create_app
            return create_app(url)

    from .web import _secret_key
    _secret_key()  # made once here: workers starting together must not each make their own
    timer_process = None
    if timers:
        timer_process = subprocess.Popen([sys.executable, "-m", "service.cli", "timers", "--interval", str(interval)],
                                         env={**os.environ, "DATABASE_URL": url})
    click.echo(f"serving on http://{host}:{port}/ with {processes} processes "
               f"(API: /api/v1, OpenAPI: /api/v1/openapi.json)")
    try:
        Server().run()
    finally:
        if timer_process is not None:
            timer_process.terminate()
            timer_process.wait(timeout=30)


def _timer_loop(services, interval: float, stop) -> None:
    from .timer_worker import TimerWorker
    TimerWorker(services, max_sleep=interval).run(stop)


@main.command()
@click.option("--once", is_flag=True, help="Fire what is due now and exit.")
@click.option("--interval", default=30.0, show_default=True, type=float,
              help="The longest sleep between looks; the worker wakes at the next due time (and, on PostgreSQL, "
                   "when a step schedules a timer).")
def timers(once: bool, interval: float) -> None:
    """A worker that fires due timers on time. Several may run against PostgreSQL (FOR UPDATE SKIP LOCKED)."""
    import threading

    from .timer_worker import TimerWorker

    services = _services()
    worker = TimerWorker(services, max_sleep=interval)
    if once:
        click.echo(f"fired {worker.run_once()} timer(s)")
        return
    worker.run(threading.Event())


@main.command()
@click.option("--password", default="demo1234", show_default=True, help="Password of every demo account.")
def demo(password: str) -> None:
    """Create demo users and cases in several states (on an initialised database)."""
    from .demo import load_demo

    services = _services(initialised=False)
    services.db.migrate()
    _deploy(services, by="demo")
    accounts = load_demo(services, password)
    roles = {"office": "领导小组办公室", "leading_group": "领导小组", "admin": "系统管理员", "reviewer": "合规审查",
             "owner": "流程负责人", "officer": "执法人员"}
    click.echo(f"演示账号（密码均为 {password}）：")
    click.echo(f"  {'账号':<10} {'角色':<12} 说明")
    for username, role, note in accounts:
        label = "、".join(roles.get(r, r) for r in role.split(","))
        click.echo(f"  {username:<12} {label:<14} {note}")


@main.command("test-scenarios")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def test_scenarios(paths: tuple[Path, ...], as_json: bool) -> None:
    """Run the scenario files (default: scenarios/) against processes/ and forms/; exit 1 if any fails."""
    from .engine import EngineError, ProcessEngine
    from .scenarios import ScenarioFileError, load_scenarios, run_all

    try:
        scenarios = load_scenarios(list(paths) or [deployed_dir("scenarios", "ACCOUNTABILITY_SCENARIOS")])
        engine = ProcessEngine.from_folders(processes_dir(), forms_dir())
    except (ScenarioFileError, EngineError, DmnLoadError) as exc:
        raise click.ClickException(str(exc)) from None
    results = run_all(engine, scenarios)
    failed = [r for r in results if not r.passed]
    if as_json:
        _dump([r.to_json() for r in results])
    else:
        for r in results:
            click.echo(f"{'PASS' if r.passed else 'FAIL'}  {r.name}")
            for failure in r.failures:
                click.echo(f"      {failure}")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
