"""Hostile input never crashes the interpreter and never allows: bad bundles and signatures raise
aarm.BundleError; bad requests decide deny with input.invalid."""

import json
import sys

import pytest

import aarm
from conftest import NOW, request


def assert_invalid(decision, path_part=""):
    assert decision["decision"] == "deny", decision
    assert decision["reason"]["code"] == "input.invalid", decision
    assert path_part in decision["reason"]["message"], decision


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        '{"action": {"tool": "transfer_funds", "params": {"amount": 5, "amount": 50000}}}',
        "[]",
        "null",
        "",
        "\ud800",
    ],
)
def test_bad_json_text_is_deny(engine, bad):
    assert_invalid(engine.decide(bad, now=NOW))


@pytest.mark.parametrize("bad", [None, 42, 3.5, b"{}", ["a"], object(), {1: "x"}, {"action": set()}])
def test_non_dict_requests_are_deny(engine, bad):
    assert_invalid(engine.decide(bad, now=NOW))


def test_huge_integer_is_deny_at_its_path(engine):
    assert_invalid(engine.decide(request(10**400), now=NOW), "$.action.params.amount")
    assert_invalid(engine.decide(request(-(2**64)), now=NOW), "$.action.params.amount")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_deny(engine, value):
    assert_invalid(engine.decide(request(value), now=NOW), "$.action.params.amount")


def test_deep_nesting_is_deny_not_a_crash(engine):
    deep = []
    for _ in range(1_000_000):
        deep = [deep]
    assert_invalid(engine.decide(request(memo=deep), now=NOW))
    text = json.dumps(request()).replace('"acme"', "[" * 100_000 + "]" * 100_000)
    assert_invalid(engine.decide(text, now=NOW))


def test_self_containing_dict_is_deny(engine):
    r = request()
    r["action"]["params"]["memo"] = r
    assert_invalid(engine.decide(r, now=NOW))


def test_wrong_types_and_unknown_names_are_deny(engine):
    assert_invalid(engine.decide(request([25000]), now=NOW), "$.action.params.amount")
    assert_invalid(engine.decide(request(True), now=NOW), "$.action.params.amount")
    # A tool the bundle does not declare: no rule is on it, so the default decides (deny here).
    assert engine.decide({"action": {"tool": "transfer_fund", "params": {}}}, now=NOW)["decision"] == "deny"
    assert_invalid(engine.decide(request(memo="\ud800"), now=NOW))


def test_lone_surrogate_key_is_deny(engine):
    r = request()
    r["action"]["params"]["\udcff"] = 1
    assert_invalid(engine.decide(r, now=NOW))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: b"",
        lambda b: b"not a bundle at all",
        lambda b: b[:-1],
        lambda b: b + b"\0",
        lambda b: b[:-10] + bytes(x ^ 0xFF for x in b[-10:]),
    ],
)
def test_bad_bundle_raises_bundle_error(bundle, corrupt):
    with pytest.raises(aarm.BundleError):
        aarm.Engine.load(corrupt(bundle))


def test_missing_bundle_file_raises(tmp_path):
    with pytest.raises(aarm.Error, match="cannot read bundle"):
        aarm.Engine.load(tmp_path / "missing.aarmb")
    with pytest.raises(TypeError):
        aarm.Engine.load(12)


def test_signatures(tmp_path, policy_dir):
    key = tmp_path / "key.hex"
    key.write_text("ab" * 32)  # a signing key file as `aarm keygen` writes it: the seed in hex
    signed = aarm.build(policy_dir, sign_key=key)
    assert signed != aarm.build(policy_dir)
    with pytest.raises(aarm.BundleError, match="not signed"):
        aarm.Engine.load(aarm.build(policy_dir), require_signature=True)
    assert aarm.Engine.load(signed, require_signature=True).decide(request(500), now=NOW)["decision"] == "allow"
    # A trusted key that is not the signer's refuses the bundle; a malformed key is refused too.
    other = tmp_path / "other.hex"
    other.write_text("cd" * 32)
    # The signer's public key, read from the header as docs/bundle.md lays it out.
    n = int.from_bytes(signed[10:12], "little")
    signer_public = signed[13 + n : 13 + n + 32]
    other_public = aarm.build(policy_dir, sign_key=other)[13 + n : 13 + n + 32]
    assert aarm.Engine.load(signed, trusted_keys=[other_public, signer_public], require_signature=True)
    with pytest.raises(aarm.BundleError, match="not among this host's trusted keys"):
        aarm.Engine.load(signed, trusted_keys=[other_public])
    # One byte of the signature (the last 64 bytes before the payload) changed.
    sig_end = 13 + n + 32 + 8 + 32 + 64
    tampered = bytearray(signed)
    tampered[sig_end - 1] ^= 0x01
    with pytest.raises(aarm.BundleError, match="signature"):
        aarm.Engine.load(bytes(tampered))
    with pytest.raises(aarm.BundleError, match="trusted key 0"):
        aarm.Engine.load(signed, trusted_keys=[b"short"])
    with pytest.raises(aarm.Error, match="signing key"):
        aarm.build(policy_dir, sign_key=b"short")


def test_interpreter_survives(engine):
    # After all of the above in one process, the engine still answers.
    assert engine.decide(request(500), now=NOW)["decision"] == "allow"
    assert sys.getrecursionlimit() > 0
