"""Fixtures: a policy written to a temporary directory and built with aarm.build, as a host would."""

import pathlib

import pytest

import aarm

# bindings/fixtures/treasury.aarm (allows are good for five minutes), which the Node tests use
# too. 2026-11-24T10:00:00Z is the tests' clock.
POLICY = (pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "treasury.aarm").read_text(encoding="utf-8")

NOW = 1795514400  # 2026-11-24T10:00:00Z


def request(amount=25_000, recipient="acme", **params):
    return {
        "action": {
            "tool": "transfer_funds",
            "params": {"amount": amount, "currency": "EUR", "recipient": recipient, **params},
        },
        "identity": {"human": "alice@corp.com", "agent": "treasury-agent"},
    }


@pytest.fixture
def policy_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    d = tmp_path / "treasury"
    d.mkdir()
    (d / "treasury.aarm").write_text(POLICY, encoding="utf-8")
    return d


@pytest.fixture
def bundle(policy_dir: pathlib.Path) -> bytes:
    return aarm.build(policy_dir)


@pytest.fixture
def engine(bundle: bytes) -> "aarm.Engine":
    return aarm.Engine.load(bundle)
