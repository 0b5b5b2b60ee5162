"""Cases on the embedded SQLite store: open, approve, deny, provide, tick, receipts."""

import datetime
import decimal

import pytest

import aarm
from conftest import NOW, request


@pytest.fixture
def cases(tmp_path, engine):
    return aarm.Cases(tmp_path / "cases.db", engine)


def test_open_and_approve(cases):
    opened = cases.open(request(), now=NOW)
    assert opened["decision"] == "step_up"
    case = opened["case"]
    assert case.startswith("case-") and opened["receipt"]
    assert cases.get(case)["state"] == "pending_approval"
    approved = cases.approve(case, "cfo@corp.com", now=NOW + 60)
    assert approved["state"] == "allowed"
    assert approved["released_action"]["tool"] == "transfer_funds"
    kinds = [r["event"] for r in cases.receipts(case)]
    assert kinds[0] == "open" and "approve" in kinds


def test_allow_opens_no_case_but_is_recorded(cases):
    opened = cases.open(request(500), now=NOW)
    assert opened["decision"] == "allow" and "case" not in opened and opened["receipt"]
    assert [r["event"] for r in cases.receipts()] == ["decide"]


def test_refused_events_raise_case_error_with_code(cases):
    case = cases.open(request(), now=NOW)["case"]
    with pytest.raises(aarm.CaseError) as e:
        cases.approve(case, "mallory@corp.com", now=NOW + 1)
    assert e.value.code == "not_an_approver"
    with pytest.raises(aarm.CaseError) as e:
        cases.approve("case-999999", "cfo@corp.com", now=NOW + 1)
    assert e.value.code == "unknown_case"
    with pytest.raises(aarm.CaseError) as e:
        cases.approve(case, "cfo@corp.com", now=NOW - 3600)
    assert e.value.code == "clock_went_back"
    assert cases.get(case)["state"] == "pending_approval"


def test_deny(cases):
    case = cases.open(request(), now=NOW)["case"]
    denied = cases.deny(case, "controller@corp.com", "not this vendor", now=NOW + 5)
    assert denied["state"] == "denied"
    assert denied["denials"][0]["why"] == "not this vendor"
    with pytest.raises(aarm.CaseError) as e:
        cases.approve(case, "cfo@corp.com", now=NOW + 6)
    assert e.value.code == "case_resolved"


def test_provide_evidence_releases_a_deferral(cases):
    opened = cases.open(request(500, recipient="new-vendor"), now=NOW)
    assert opened["decision"] == "defer"
    case = opened["case"]
    assert cases.get(case)["state"] == "pending_evidence"
    assert cases.provide(case, {"recipient_verified": True}, by="kyc", now=NOW + 10)["state"] == "allowed"


def test_provide_false_evidence_denies(cases):
    case = cases.open(request(500, recipient="new-vendor"), now=NOW)["case"]
    assert cases.provide(case, {"recipient_verified": False}, now=NOW + 10)["state"] == "denied"


def test_provide_needs_a_dict_of_facts(cases):
    case = cases.open(request(500, recipient="new-vendor"), now=NOW)["case"]
    with pytest.raises(aarm.Error, match="object"):
        cases.provide(case, ["recipient_verified"], now=NOW + 1)
    with pytest.raises(aarm.Error, match="empty"):
        cases.provide(case, {}, now=NOW + 1)


def test_tick_times_out_to_deny(cases):
    case = cases.open(request(), now=NOW)["case"]
    assert cases.tick(now=NOW + 60) == []
    changed = cases.tick(now=NOW + 31 * 60)
    assert [c["id"] for c in changed] == [case]
    assert cases.get(case)["state"] == "denied"


def test_get_unknown_is_none(cases):
    assert cases.get("case-424242") is None


def test_invalid_request_is_recorded_as_deny(cases):
    opened = cases.open({"action": {"tool": "transfer_funds", "params": {"amount": 10**100}}}, now=NOW)
    assert opened["decision"] == "deny" and opened["reason"]["code"] == "input.invalid"
    assert "case" not in opened
    assert cases.open("{broken", now=NOW)["decision"] == "deny"


def test_store_survives_reopening_and_signs_receipts(tmp_path, engine):
    key = tmp_path / "key.hex"
    key.write_text("ab" * 32)
    first = aarm.Cases(tmp_path / "c.db", engine, sign_key=key)
    case = first.open(request(), now=NOW)["case"]
    del first
    again = aarm.Cases(tmp_path / "c.db", engine, sign_key=key)
    assert again.approve(case, "controller@corp.com", now=NOW + 1)["state"] == "allowed"
    receipts = again.receipts()
    assert all(r.get("signature") for r in receipts), receipts
    # Chained: each receipt names the one before it.
    assert all(b["prev"] == a["hash"] for a, b in zip(receipts, receipts[1:]))


def test_store_that_cannot_be_opened_raises_store_error(tmp_path, engine):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(aarm.StoreError):
        aarm.Cases(tmp_path / "dir.db", engine)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(aarm.StoreError):
        aarm.Cases(junk, engine)


# Bounded approvals: the fixture's step-up lists `limits amount` and is `valid 1h`.


def test_a_capped_approval_is_carried_in_the_release_limits(cases):
    case = cases.open(request(25_000), now=NOW)["case"]
    approved = cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": 30_000})
    assert approved["state"] == "allowed"
    assert approved["outcome"]["limits"] == {"params.amount": {"max": "30000"}}
    assert approved["approvals"][0]["max"] == {"amount": "30000"}
    release = [r for r in cases.receipts(case) if r["event"] == "approve"][-1]
    assert release["detail"]["limits"] == {"params.amount": {"max": "30000"}}


@pytest.mark.parametrize(
    "cap, shown",
    [(decimal.Decimal("25000.50"), "25000.5"), ("26000.00", "26000"), (25_000, "25000"), ("2.5e4", "25000")],
)
def test_caps_are_read_exactly_from_int_decimal_and_str(cases, cap, shown):
    case = cases.open(request(25_000), now=NOW)["case"]
    approved = cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": cap})
    assert approved["outcome"]["limits"] == {"params.amount": {"max": shown}}


def test_a_cap_below_the_action_or_off_the_list_is_refused_with_its_code(cases):
    case = cases.open(request(25_000), now=NOW)["case"]
    with pytest.raises(aarm.CaseError) as e:
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": 5000})
    assert e.value.code == "limit_below_action"
    with pytest.raises(aarm.CaseError) as e:
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"currency_fee": 10})
    assert e.value.code == "limit_not_allowed"
    assert cases.get(case)["state"] == "pending_approval"
    assert cases.get(case)["approvals"] == []


def test_a_float_or_a_non_number_cap_is_refused_before_the_lifecycle(cases):
    case = cases.open(request(25_000), now=NOW)["case"]
    with pytest.raises(TypeError, match="float"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": 30000.0})
    with pytest.raises(TypeError, match="bool"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": True})
    with pytest.raises(TypeError, match="dict"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max=[("amount", 30000)])
    with pytest.raises(aarm.Error, match="max.amount"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": "lots"})
    with pytest.raises(aarm.Error, match="below 10\\^20"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, max={"amount": 10**30})
    assert cases.get(case)["approvals"] == []


def test_until_in_the_past_is_refused(cases):
    case = cases.open(request(), now=NOW)["case"]
    for until in (NOW + 60, "2026-11-24T10:00:30Z", datetime.datetime(2026, 11, 24, 9, 0, tzinfo=datetime.timezone.utc)):
        with pytest.raises(aarm.CaseError) as e:
            cases.approve(case, "cfo@corp.com", now=NOW + 60, until=until)
        assert e.value.code == "until_in_past", until
    assert cases.get(case)["state"] == "pending_approval"


def test_until_narrows_the_released_allow(cases):
    unbounded = cases.open(request(), now=NOW)["case"]
    case = cases.open(request(), now=NOW)["case"]
    released = cases.approve(unbounded, "cfo@corp.com", now=NOW + 60)["outcome"]
    assert released["expires_at"] == "2026-11-24T11:01:00Z"  # valid 1h after the release

    until = datetime.datetime(2026, 11, 24, 10, 20, tzinfo=datetime.timezone.utc)
    approved = cases.approve(case, "cfo@corp.com", now=NOW + 60, until=until)
    assert approved["state"] == "allowed"
    assert approved["outcome"]["expires_at"] == "2026-11-24T10:20:00Z"
    assert aarm.is_current(approved["outcome"], now="2026-11-24T10:19:59Z")
    assert not aarm.is_current(approved["outcome"], now="2026-11-24T10:20:00Z")


def test_until_is_read_as_now_is(cases):
    case = cases.open(request(), now=NOW)["case"]
    with pytest.raises(aarm.Error, match="until"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, until="tomorrow")
    with pytest.raises(aarm.Error, match="naive"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, until=datetime.datetime(2026, 11, 24, 11, 0))
    with pytest.raises(TypeError, match="until"):
        cases.approve(case, "cfo@corp.com", now=NOW + 60, until=True)
    approved = cases.approve(case, "cfo@corp.com", now=NOW + 60, until=NOW + 600.9)
    assert approved["outcome"]["expires_at"] == "2026-11-24T10:10:00Z"
