"""Property tests (hypothesis) of the decision: one path, deterministic, flagged units held."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockstation.policy import PATHS, Facts, approval_needs, decide, dispose, load_policy, risk_flags
from dockstation.policy.config import PolicyConfig, When
from dockstation.store import Store

from policy_support import bench_for, fresh_home, graded, operator, unit

POLICY = load_policy(None)
GRADES = ["A", "B", "C", "D", "F"]
CATEGORIES = ["phones", "laptops", "headphones", "apparel", "footwear", "home", "health_beauty",
              "toys", "other", "garden"]
KNOWN_FLAGS = ["serial_mismatch", "wrong_item", "empty_box", "missing_accessories",
               "hygiene_seal_broken", "activation_locked", "safety_risk", "short_dated",
               "customer_damage", "fraud_suspected", "sku_flag_history"]
REASONS = ["changed_mind", "wrong_size", "defective", "damaged_in_transit", "not_as_described",
           "wrong_item_sent", "missing_parts", "late_delivery", "unwanted_gift", "fraud_suspected", ""]

flags_st = st.frozensets(st.sampled_from(KNOWN_FLAGS) | st.from_regex(r"[a-z][a-z_]{1,12}", fullmatch=True),
                         max_size=4)
facts_st = st.builds(
    Facts,
    category=st.sampled_from(CATEGORIES),
    grade=st.sampled_from(GRADES),
    unit_price=st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False),
    flags=flags_st,
    answers=st.dictionaries(st.sampled_from(["safety", "powers_on", "screen", "serial"]),
                            st.sampled_from(["pass", "fail", "na", "3", "X1"]), max_size=3),
    results=st.dictionaries(st.sampled_from(["safety", "powers_on", "screen", "serial"]),
                            st.sampled_from(["pass", "fail", "na", "info"]), max_size=3),
    days_since_purchase=st.integers(min_value=0, max_value=400),
    vendor_return_eligible=st.booleans(),
    reason_code=st.sampled_from(REASONS),
    sku=st.sampled_from(["PHN-1", "APP-2", "HDP-3", "", "X"]),
)


def reference_matches(when: When, f: Facts, policy: PolicyConfig) -> bool:
    """A plain reading of the documented `when` semantics, independent of decide.py's compiler."""
    risky = set(f.flags) - set(policy.condition_flags)
    conds = [
        not when.category or f.category in when.category,
        not when.grade or f.grade in when.grade,
        not when.reason_code or f.reason_code in when.reason_code,
        not when.sku_prefix or any(f.sku.startswith(p) for p in when.sku_prefix),
        when.flagged is None or when.flagged == bool(risky),
        not when.flags_any or any(x in f.flags for x in when.flags_any),
        not when.flags_none or not any(x in f.flags for x in when.flags_none),
        all(f.answers.get(k) in v or f.results.get(k) in v for k, v in when.answers.items()),
        when.value_at_least is None or f.unit_price >= when.value_at_least,
        when.value_below is None or f.unit_price < when.value_below,
        when.days_at_most is None or f.days_since_purchase <= when.days_at_most,
        when.days_more_than is None or f.days_since_purchase > when.days_more_than,
        when.vendor_return_eligible is None or when.vendor_return_eligible == f.vendor_return_eligible,
    ]
    return all(conds)


@settings(max_examples=400)
@given(facts_st)
def test_every_graded_unit_gets_exactly_one_path_from_the_first_matching_rule(f):
    d = decide(POLICY, f)
    matching = [r for r in POLICY.rules if reference_matches(r.when, f, POLICY)]
    assert matching, "the last rule always matches"
    first = matching[0]
    assert (d.path, d.rule_id, d.reason) == (first.path, first.id, first.reason)
    assert d.path in PATHS and d.policy_version == POLICY.version
    assert d.recovery_value >= 0 and d.recovery_value == d.recovery_value.quantize(Decimal("0.01"))


@settings(max_examples=200)
@given(facts_st)
def test_the_same_inputs_give_the_same_path_and_rule(f):
    again = Facts(category=f.category, grade=f.grade, unit_price=Decimal(str(f.unit_price)),
                  flags=frozenset(sorted(f.flags, reverse=True)), answers=dict(reversed(list(f.answers.items()))),
                  results=dict(f.results),
                  days_since_purchase=f.days_since_purchase, vendor_return_eligible=f.vendor_return_eligible,
                  reason_code=f.reason_code, sku=f.sku)
    assert decide(POLICY, f) == decide(POLICY, again) == decide(POLICY, f)
    # and through a freshly loaded copy of the policy (nothing cached decides differently)
    assert decide(load_policy(None), f) == decide(POLICY, f)


@settings(max_examples=400)
@given(facts_st.filter(lambda f: risk_flags(POLICY, f.flags)))
def test_the_default_policy_holds_a_flagged_unit_in_quarantine(f):
    d = decide(POLICY, f)
    assert d.path == "quarantine"
    for path in PATHS:
        if path != "quarantine":  # past quarantine only with a lead's approval
            assert approval_needs(POLICY, f, d.path, path), path


@settings(max_examples=200)
@given(facts_st.filter(lambda f: risk_flags(POLICY, f.flags)), st.randoms(use_true_random=False))
def test_whatever_the_rule_order_a_flagged_unit_needs_approval_past_quarantine(f, rnd):
    rules = list(POLICY.rules[:-1])
    rnd.shuffle(rules)
    shuffled = POLICY.model_copy(update={"rules": [*rules, POLICY.rules[-1]]})
    d = decide(shuffled, f)
    assert d.path == "quarantine" or approval_needs(shuffled, f, d.path, d.path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GRADES), st.sampled_from(CATEGORIES), flags_st.filter(lambda s: risk_flags(POLICY, s)),
       st.sampled_from([None, *PATHS]))
def test_dispose_without_a_lead_never_takes_a_flagged_unit_past_quarantine(grade, category, flags, path):
    with tempfile.TemporaryDirectory() as tmp:
        home = fresh_home(Path(tmp))
        store = Store.in_home(home)
        try:
            bench = bench_for(home)
            lpn = graded(store, 1, category=category, grade=grade, flags=tuple(sorted(flags)), price="99.00")
            out = dispose(store, bench, operator(bench, "grader"), lpn, policy=POLICY, path=path)
            u = unit(store, lpn)
            if out.ok:
                assert out.path == "quarantine" and u.state == "quarantined"
            else:
                assert out.status == "needs_approval" and u.state == "graded"
        finally:
            store.close()
