"""`dockstation policy check FILE` and `dockstation policy simulate FILE` (docs/policy.md)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from typing import TYPE_CHECKING

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx
from dockstation.text import clean

# Rich, the store and the policy engine are imported inside the commands, so that
# `dockstation --help` and completion stay fast (dockstation/cli/__init__.py).
if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from dockstation.policy.config import PolicyConfig
    from dockstation.policy.simulate import Simulation


def _t(value: object) -> Text:
    from rich.text import Text

    # config text is someone's file: shown as data, never as markup
    return Text(clean(value, limit=None))


def _console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, markup=False, highlight=False, soft_wrap=False,
                   width=None if sys.stdout.isatty() else 120)


@click.group("policy")
def policy_group() -> None:
    """Disposition policy: validate a policy file, replay history through it."""


@policy_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@config_errors
def check(ctx: Context, file: Path) -> None:
    """Validate FILE as a whole policy and print its rules (exit 1 with file, key and reason)."""
    from rich.table import Table

    from dockstation.config import CodesConfig, load_layered
    from dockstation.policy.config import load_policy_file

    codes = load_layered("codes.toml", CodesConfig, ctx.home, required=True)
    policy = load_policy_file(file, codes)
    out = _console()
    out.print(_t(f"{file}: policy {policy.version}: valid, {len(policy.rules)} rules"))
    table = Table(title="Rules (first match wins)", title_justify="left")
    for col in ("#", "id", "when", "path", "destination", "reason"):
        table.add_column(col, overflow="fold")
    for i, rule in enumerate(policy.rules):
        path = policy.paths[rule.path]
        dest = rule.destination or path.destination + (" (or per category)" if path.destinations else "")
        table.add_row(str(i), _t(rule.id), _t(rule.when.describe()), _t(rule.path), _t(dest),
                      _t(rule.reason))
    out.print(table)
    lanes = Table(title="Triage lanes", title_justify="left")
    for col in ("lane", "SLA hours", "description"):
        lanes.add_column(col)
    for lane in policy.lanes:
        lanes.add_row(_t(lane.name), f"{lane.sla_hours:g}", _t(lane.description))
    out.print(lanes)
    if policy.age_triggers:
        trig = Table(title="Age triggers (each fires once per unit)", title_justify="left")
        for col in ("id", "waiting", "after", "when", "does", "reason"):
            trig.add_column(col, overflow="fold")
        for t in policy.age_triggers:
            trig.add_row(_t(t.id), t.state, t.describe_after(), _t(t.when.describe()), _t(t.target()), _t(t.reason))
        out.print(trig)
    else:
        out.print(_t("Age triggers: none"))
    d = policy.decay
    rates = ", ".join(f"{k} {v}" for k, v in d.rates.items()) or "none"
    out.print(_t(f"Value decay per week of waiting (after {d.after_days:g} days, at most {d.max_share}): {rates}"))
    a = policy.approvals
    out.print(_t(f"Approval by a lead: overrides; {', '.join(a.value_paths)} above {a.value_threshold}; "
                 f"risk-flagged units except to {', '.join(a.flagged_exempt_paths)}; redispositions. "
                 f"Reasons: {', '.join(policy.approval_reasons)}"))


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date such as 2026-11-01 "
                                 "or a time such as 2026-11-01T08:00:00+01:00") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@policy_group.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--since", callback=_since, metavar="DATE",
              help="Only units inspected at or after DATE (ISO date or time; UTC if no offset).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@pass_ctx
@config_errors
def simulate_cmd(ctx: Context, file: Path, since: datetime | None, fmt: str) -> None:
    """Replay this bench's graded units through FILE beside the policy in force."""
    from dockstation.config import CodesConfig, load_layered
    from dockstation.policy.config import load_policy, load_policy_file
    from dockstation.policy.simulate import simulate
    from dockstation.store import DB_NAME, Store

    codes = load_layered("codes.toml", CodesConfig, ctx.home, required=True)
    in_force = load_policy(ctx.home, codes)
    candidate = load_policy_file(file, codes)
    if not (ctx.home / DB_NAME).is_file():
        fail(f"no bench store at {ctx.home / DB_NAME}: nothing to replay")
    store = Store.in_home(ctx.home)
    try:
        sim = simulate(store, in_force, candidate, since)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(sim.as_json(), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        _csv(sim)
    else:
        _table(sim, in_force, candidate)


def _csv(sim: Simulation) -> None:
    """The changed units, one row each; the totals go to stderr so stdout stays one CSV table."""
    from dockstation import csv_out

    w = csv_out.writer(sys.stdout)
    w.writerow(["lpn", "old_path", "new_path", "old_value", "new_value", "delta", "old_rule", "new_rule"])
    for c in sim.changed:
        w.writerow([c.lpn, c.old_path, c.new_path, c.old_value, c.new_value, c.delta, c.old_rule, c.new_rule])
    click.echo(f"# {sim.units} units; in force {sim.in_force.version}: {sim.in_force.total_recovery}; "
               f"candidate {sim.candidate.version}: {sim.candidate.total_recovery}; "
               f"delta {sim.delta}; {len(sim.changed)} change path", err=True)


def _table(sim: Simulation, in_force: PolicyConfig, candidate: PolicyConfig) -> None:
    from rich.table import Table
    from rich.text import Text

    from dockstation.policy.config import PATHS

    out = _console()
    since = f" since {sim.since.isoformat()}" if sim.since else ""
    out.print(_t(f"{sim.units} graded units replayed{since}"))
    mix = Table(title="Disposition mix", title_justify="left")
    mix.add_column("path")
    for title in (f"in force {in_force.version}", f"candidate {candidate.version}"):
        mix.add_column(Text(clean(f"{title} units")), justify="right")
        mix.add_column(Text("recovery"), justify="right")
    for p in PATHS:
        a, b = sim.in_force.mix.get(p, [0, 0]), sim.candidate.mix.get(p, [0, 0])
        if a[0] or b[0]:
            mix.add_row(p, str(a[0]), f"{a[1]:.2f}", str(b[0]), f"{b[1]:.2f}")
    mix.add_row("TOTAL", str(sim.units), f"{sim.in_force.total_recovery:.2f}", str(sim.units),
                f"{sim.candidate.total_recovery:.2f}", style="bold")
    out.print(mix)
    out.print(_t(f"Recovery delta: {sim.delta:+.2f}; {len(sim.changed)} units change path; "
                 f"{sim.value_changed} keep their path with another estimate"))
    if sim.changed:
        ch = Table(title="Units that change path", title_justify="left")
        for col in ("lpn", "old path", "new path", "old value", "new value", "delta", "rules"):
            ch.add_column(col, justify="right" if "value" in col or col == "delta" else "left")
        for c in sim.changed:
            ch.add_row(_t(c.lpn), c.old_path, c.new_path, f"{c.old_value:.2f}", f"{c.new_value:.2f}",
                       f"{c.delta:+.2f}", _t(f"{c.old_rule} → {c.new_rule}"))
        out.print(ch)
    if sim.triggers:
        _triggers_table(out, sim.triggers)


def _triggers_table(out: Console, triggers: dict) -> None:
    """What each side's age triggers would have done over the same history."""
    from rich.table import Table

    for side in ("in_force", "candidate"):
        r = triggers[side]
        t = Table(title=f"Age triggers, {'in force' if side == 'in_force' else 'candidate'} {r['version']} "
                        f"(waits up to {r['as_of'][:16]})", title_justify="left")
        for col in ("trigger", "waiting", "does", "units", "recovered", "lost"):
            t.add_column(col, justify="right" if col in ("units", "recovered", "lost") else "left")
        for tid, x in r["by_trigger"].items():
            does = x["action"] + (f" {x['target']}" if x["target"] else "")
            t.add_row(_t(tid), x["state"], _t(does), str(x["units"]), x["recovered"], x["lost"])
        out.print(t if r["by_trigger"] else _t(f"{t.title}: none"))
        out.print(_t(f"  re-routes: {r['delta_recovery']} recovery; value decay of graded units: {r['decay']}"))


commands: list[click.Command] = [policy_group]
