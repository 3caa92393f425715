"""What the disposition screen shows, as text, from a `Proposal` (no widgets, no store).

Everything from the store or config goes through `clean` into `Text`: never markup. The screen's
flow (keys, scans, calls) is tui/disposition.py.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from dockstation.policy.config import PolicyConfig
from dockstation.policy.decide import aged_value
from dockstation.policy.dispose import DisposeOutcome, Proposal
from dockstation.text import clean

# Colour and symbol per path (background, text): the path's word is printed big too, and the
# state symbol (✔ carried out as shown, ! a lead must approve, ✖ an error) in front of it, so
# colour is never alone.
LOOK = {
    "restock": ("✔", "#2ea043", "black"),
    "open_box": ("◆", "#3fb8c4", "black"),
    "refurbish": ("⚙", "#1f6feb", "white"),
    "liquidate": ("$", "#d4a72c", "black"),
    "recycle": ("♻", "#116329", "white"),
    "vendor_return": ("↩", "#8250df", "white"),
    "donate": ("♥", "#bf3989", "white"),
    "quarantine": ("⚠", "#cf222e", "white"),
    "dispose": ("✖", "#57606a", "white"),
}
UNKNOWN_LOOK = ("?", "#57606a", "white")


def title(path: str) -> str:
    return path.replace("_", " ").upper()


def head(p: Proposal, width: int) -> Text:
    """One line: the LPN, price, grade and category first (never cut), then SKU and description."""
    f = p.facts
    fixed = clean(f"{p.lpn}  {f.unit_price} {p.currency}  grade {f.grade or '?'}  {f.category}")
    rest = clean(f"  {p.sku} {p.description}")
    room = max(0, width - len(fixed))
    out = Text(fixed, style="bold", no_wrap=True, overflow="ellipsis")
    if room > 3:
        out.append(clean(rest, limit=room))
    return out


def big(p: Proposal, path: str, mode: str) -> str:
    """The big line: the state symbol and the path, e.g. `✔ RESTOCK`, `! LIQUIDATE`."""
    needs = p.option(path).approval if mode != "error" else ()
    return f"{'!' if needs else '✔'} {title(path)}"


def waiting_line(p: Proposal, names: dict[str, str], now: datetime) -> str:
    w = p.waiting
    if w is None:
        return ""
    minutes = max(0, int((now - w.requested_at).total_seconds() // 60))
    age = f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    who = names.get(w.requested_by, w.requested_by)
    return f"Waiting for a lead's approval for {age} (asked by {who}): {title(w.path)}"


def decay_note(p: Proposal, path: str, policy: PolicyConfig) -> str:
    """` (−3.80: 5 wk waiting)` when waiting lowered the estimate (policy.toml [decay]), else ""."""
    decay = p.decision.decay if path == p.decision.path else aged_value(policy, path, p.facts)[1]
    return f" (−{decay}: {p.facts.days_waiting / 7:.0f} wk waiting)" if decay > 0 else ""


def body(p: Proposal, mode: str, path: str, policy: PolicyConfig, *, lead_name: str = "",
         waiting: str = "") -> Text:
    """The screen's middle: why this path, where to, what it recovers; or the pickers."""
    d, r = p.decision, p.refund
    out = Text()
    if mode == "choose_path":
        out.append("Override: pick the path (number key), Esc: back\n", style="bold")
        for n, o in enumerate(p.options, start=1):
            sym = LOOK.get(o.path, UNKNOWN_LOOK)[0]
            mark = "  (policy)" if o.path == d.path else ""
            out.append(clean(f"{n} {sym} {title(o.path):<14} {o.recovery_value:>10} → "
                             f"{o.destination}{mark}", limit=76) + "\n")
        return out
    if mode == "choose_reason":
        out.append(clean(f"Approved by {lead_name or '?'}: pick the reason (number key)") + "\n", style="bold")
        for n, (code, label) in enumerate(policy.approval_reasons.items(), start=1):
            out.append(clean(f"{n}  {label}  [{code}]", limit=76) + "\n")
        return out
    opt = p.option(path)
    sym = LOOK.get(path, UNKNOWN_LOOK)[0]
    if path == d.path:
        out.append(clean(f"{sym} Rule {d.rule_id}: {d.reason}") + "\n", style="bold")
    else:
        out.append(clean(f"{sym} Override of {title(d.path)} (rule {d.rule_id}: {d.reason})") + "\n", style="bold")
    out.append(clean(f"→ {opt.destination}") + "\n")
    out.append(clean(f"Recovery estimate {opt.recovery_value} {p.currency}{decay_note(p, path, policy)}   "
                     f"policy {d.policy_version}") + "\n")
    out.append(clean(f"Refund: {r.refund.upper()} {r.amount} {p.currency} — {r.reason}") + "\n")
    if p.current_path:
        out.append(clean(f"Now: {title(p.current_path)} (a change is a redisposition)") + "\n")
    if waiting:
        out.append(clean(waiting) + "\n", style="bold")
    needs = opt.approval
    if mode == "await_badge":
        out.append("! Lead: scan your badge to approve now.  Enter or the next scan: leave it in the "
                   "lead's queue  (Esc: back)\n", style="bold black on yellow")
        for why in needs:
            out.append(clean(f"  • {why}", limit=76) + "\n")
    elif mode == "confirm_leave":
        out.append(clean(f"! Leave {p.lpn} without a decision? It stays {p.state.replace('_', ' ')}.  "
                         "Esc again: leave  ·  Enter: accept") + "\n", style="bold black on yellow")
    elif needs:
        out.append(clean("! Needs a lead: " + "; ".join(needs), limit=150) + "\n", style="bold yellow")
        out.append("  A lead's badge approves it here; Enter or the next scan leaves it in the lead's queue.\n")
    else:
        out.append("Enter, CMD:DONE or the next scan accepts · o override · Esc back\n", style="dim")
    return out


def settled(out: DisposeOutcome) -> tuple[str, str, str, str]:
    """(state, headline, message, scan log text) of a decision the grader moved on from."""
    path = title(out.path or "")
    if out.status == "awaiting_approval":
        again = "still waits" if out.extra.get("again") else "waits"
        return ("warn", "AWAITS LEAD", f"{out.lpn} {again} for a lead's approval ({path}): "
                "put it on the lead's shelf", f"awaits a lead: {path}")
    if out.status == "unchanged":
        return "info", path, out.message, f"unchanged: {path}"
    return "ok", path, f"{out.message}. Label queued", f"{out.status} → {out.path} · label queued"
