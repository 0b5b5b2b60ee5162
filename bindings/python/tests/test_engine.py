"""Engine: load, decide, what the bundle declares; build and check."""

import json
import threading

import pytest

import aarm
from conftest import NOW, POLICY, request


def test_decide_dict_step_up(engine):
    d = engine.decide(request(), now=NOW)
    assert d["decision"] == "step_up"
    assert d["rule"] == "treasury.large"
    assert d["reason"]["code"] == "transfer.large"
    assert d["policy"]["bundle_hash"] == engine.bundle_hash
    assert d["step_up"]["approvers"] == ["cfo@corp.com", "controller@corp.com"]
    assert d["step_up"]["quorum"] == 1 and d["step_up"]["timeout_s"] == 1800


def same(decision):
    """A decision without its decision_id, which is new for every decision."""
    return {k: v for k, v in decision.items() if k != "decision_id"}


def test_decide_json_text_equals_dict(engine):
    assert same(engine.decide(json.dumps(request(500)), now=NOW)) == same(engine.decide(request(500), now=NOW))
    assert engine.decide(request(500), now=NOW)["decision"] == "allow"


def test_decisions_are_records_with_an_id_and_an_expiry(engine):
    a = engine.decide({**request(500), "request_id": "req-1"}, now=NOW)
    b = engine.decide(request(500), now=NOW)
    assert a["schema"] == "aarm.decision/2"
    assert len(a["decision_id"]) == 26 and a["decision_id"] != b["decision_id"]
    assert (a["request_id"], b["request_id"]) == ("req-1", None)
    assert a["evaluated_at"] == "2026-11-24T10:00:00Z"
    assert a["expires_at"] == "2026-11-24T10:05:00Z"
    assert a["scope"] == {"tool": "transfer_funds", "operation": "", "params": ["amount", "currency", "recipient"]}


def test_is_current_until_the_allow_expires(engine):
    allow = engine.decide(request(500), now=NOW)
    assert aarm.is_current(allow, now=NOW)
    assert aarm.is_current(allow, now=NOW + 299)
    assert not aarm.is_current(allow, now=NOW + 300)
    assert not aarm.is_current(allow, now="2026-11-24T10:05:00Z")
    assert not aarm.is_current(engine.decide(request(), now=NOW), now=NOW), "a step_up is never current"
    assert not aarm.is_current({"decision": "allow"}, now=NOW), "not a decision: fail closed"


def test_decide_matches_the_cli_decision_shape(engine):
    d = engine.decide(request(500), now=NOW)
    assert set(d) >= {"decision", "rule", "reason", "policy", "risk", "confidence"}


def test_now_forms_agree(engine):
    import datetime

    aware = datetime.datetime(2026, 11, 24, 10, tzinfo=datetime.timezone.utc)
    answers = [engine.decide(request(), now=n) for n in (NOW, float(NOW), aware, "2026-11-24T10:00:00Z")]
    assert all(same(a) == same(answers[0]) for a in answers)
    with pytest.raises(aarm.Error, match="naive datetime"):
        engine.decide(request(), now=datetime.datetime(2026, 11, 24, 10))
    with pytest.raises(aarm.Error, match="RFC 3339"):
        engine.decide(request(), now="yesterday")
    for bad in (True, [], float("nan"), 10**30):
        with pytest.raises((aarm.Error, TypeError)):
            engine.decide(request(), now=bad)


def test_policy_and_tools(engine):
    assert engine.policy == {"name": "treasury", "version": "1.2.0"}
    assert engine.bundle_hash.startswith("sha256:") and len(engine.bundle_hash) == 71
    (tool,) = engine.tools
    assert tool["name"] == "transfer_funds"
    assert tool["params"] == [
        {"name": "amount", "type": "Decimal", "required": True},
        {"name": "currency", "type": "String", "required": True},
        {"name": "recipient", "type": "String", "required": True},
        {"name": "memo", "type": "String?", "required": False},
    ]


def test_load_from_path_equals_bytes(tmp_path, bundle):
    path = tmp_path / "t.aarmb"
    path.write_bytes(bundle)
    assert aarm.Engine.load(path).bundle_hash == aarm.Engine.load(str(path)).bundle_hash == aarm.Engine.load(bundle).bundle_hash


def test_build_is_reproducible(policy_dir):
    assert aarm.build(policy_dir) == aarm.build(str(policy_dir))


def test_build_error_carries_diagnostics(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "p.aarm").write_text(POLICY.replace("on transfer_funds priority 10", "on transfer_fund priority 10"))
    with pytest.raises(aarm.BuildError) as e:
        aarm.build(d)
    assert isinstance(e.value, aarm.Error)
    assert "1 error" in str(e.value)
    (diag,) = e.value.diagnostics
    assert diag["code"] == "E0100"
    assert diag["help"] == "did you mean `transfer_funds`?"
    assert diag["file"].endswith("p.aarm")


def test_check_lists_diagnostics_as_the_cli_does(tmp_path, policy_dir):
    assert [d for d in aarm.check(policy_dir) if d["severity"] == "error"] == []
    d = tmp_path / "bad"
    d.mkdir()
    (d / "p.aarm").write_text(POLICY.replace("params.amount >= 10_000", "params.amount >= \"x\""))
    errors = [x for x in aarm.check(d) if x["severity"] == "error"]
    assert errors and set(errors[0]) == {
        "code", "severity", "message", "file", "line", "column", "end_line", "end_column", "help",
    }


def test_check_of_missing_path_raises(tmp_path):
    with pytest.raises(aarm.Error, match="(?i)no such file"):
        aarm.check(tmp_path / "nowhere")


def test_engine_shared_across_threads(engine):
    # Threads decide on one engine at once (decide releases the GIL); every answer is right.
    results, errors = [], []

    def work(amount, expected):
        try:
            for _ in range(200):
                results.append(engine.decide(request(amount), now=NOW)["decision"] == expected)
        except Exception as e:  # noqa: BLE001 - any failure fails the test below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(a, e)) for a, e in [(500, "allow"), (25_000, "step_up")] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 1600 and all(results)


def test_version():
    assert isinstance(aarm.__version__, str)
