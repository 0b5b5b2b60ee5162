"""Fixtures: a policy written to a temporary directory and built with aarm.build, as a host would."""

import pathlib

import pytest

import aarm

# Large transfers wait for one of two approvers; transfers to new recipients wait for evidence;
# the rest is allowed, for five minutes. 2026-11-24T10:00:00Z is the tests' clock.
POLICY = '''
policy treasury version "1.2.0"

settings { allow_valid 5m }

tool transfer_funds { amount: Decimal, currency: String, recipient: String, memo: String? }

evidence recipient_verified: Bool from "kyc"

rule large on transfer_funds priority 90 {
  when params.amount >= 10_000
  step_up {
    approvers 1 of ["cfo@corp.com", "controller@corp.com"]
    timeout 30m -> deny
  }
  reason "transfer.large" "Transfer of {params.amount} {params.currency} needs an approver"
}

rule new_recipient on transfer_funds priority 50 {
  when params.recipient == "new-vendor" and evidence.recipient_verified is not set
  defer {
    need recipient_verified
    timeout 1h -> deny
  }
}

rule unverified on transfer_funds priority 60 {
  when params.recipient == "new-vendor" and evidence.recipient_verified == false
  deny
}

rule ordinary on transfer_funds priority 10 {
  allow
}
'''

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
