"""Triage, disposition policy, approvals, refund recommendations and simulation (layers 2-4).

Plain Python over the store: no Textual, no I/O framework. See docs/policy.md.
"""

from dockstation.policy.approvals import ApprovalRefused, approval_needs, lead_for
from dockstation.policy.awaiting import Waiting, approve, pending, settle
from dockstation.policy.config import (
    PATHS,
    PolicyConfig,
    load_policy,
    load_policy_file,
    policy_for_home,
)
from dockstation.policy.decide import Facts, PolicyDecision, decide, recovery_value, risk_flags
from dockstation.policy.dispose import (
    DisposeOutcome,
    DispositionError,
    PathOption,
    Proposal,
    check_approver,
    dispose,
    propose,
)
from dockstation.policy.refund import RefundRecommendation, recommend_refund
from dockstation.policy.simulate import Simulation, simulate
from dockstation.policy.triage import lane_for, make_triage, triage_for_home

__all__ = [
    "PATHS", "ApprovalRefused", "DisposeOutcome", "DispositionError", "Facts", "PathOption",
    "PolicyConfig", "PolicyDecision", "Proposal", "RefundRecommendation", "Simulation", "Waiting",
    "approval_needs", "approve", "check_approver", "decide", "dispose", "lane_for", "lead_for",
    "load_policy", "load_policy_file", "make_triage", "pending", "policy_for_home", "propose",
    "recommend_refund", "recovery_value", "risk_flags", "settle", "simulate", "triage_for_home",
]
