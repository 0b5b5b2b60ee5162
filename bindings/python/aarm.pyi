"""aarm policies in-process: load a bundle and decide what an AI agent may do, build and check
policies, and run approval cases on an embedded SQLite store.

Decisions, cases, receipts and diagnostics are plain dicts with the JSON shapes of the project's
docs/json.md, docs/lifecycle.md and docs/audit.md, and `aarm check --format json`.
"""

import datetime
import decimal
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__version__: str

#: A path (str or os.PathLike) or the file's contents.
PathOrBytes = Union[str, "os.PathLike[str]", bytes, bytearray]
#: When: seconds since the epoch, an aware datetime, or an RFC 3339 str. None: the clock.
Now = Union[int, float, datetime.datetime, str, None]
#: A request (docs/json.md: action, identity, context, evidence) as a dict or JSON text.
Request = Union[Mapping[str, Any], str]
Decision = Dict[str, Any]
#: An approver's cap on one parameter, read exactly: an int, a Decimal, or a str such as "12.50".
#: A float is refused (TypeError): it cannot hold most decimals exactly.
Cap = Union[int, decimal.Decimal, str]
Case = Dict[str, Any]

class Error(Exception):
    """Every error of the aarm package."""

class BundleError(Error):
    """A bundle (or a trusted key) that does not load: bad bytes, hash, signature, bytecode."""

class BuildError(Error):
    """Policy sources with errors."""

    diagnostics: List[Dict[str, Any]]

class CaseError(Error):
    """A case event the lifecycle refused."""

    #: The stable code: not_an_approver, self_approval, case_resolved, unknown_case,
    #: until_in_past, limit_not_allowed, limit_below_action, ...
    code: str

class StoreError(Error):
    """The case store failed (a file that is not a SQLite database, a disk error)."""

class Engine:
    """A loaded, verified policy bundle. Immutable: share one across threads."""

    @staticmethod
    def load(
        source: PathOrBytes,
        trusted_keys: Optional[Sequence[PathOrBytes]] = None,
        require_signature: bool = False,
    ) -> "Engine":
        """Load a .aarmb bundle. trusted_keys are public key files (`aarm keygen`'s .pub): the
        signer must be one of them. Raises BundleError."""

    def decide(self, request: Request, now: Now = None) -> Decision:
        """The decision for a request. Invalid input of any kind (bad JSON, a non-dict, an
        integer beyond 64 bits, NaN, nesting deeper than 64) is a deny with reason code
        input.invalid, never an exception. Releases the GIL while deciding."""

    @property
    def bundle_hash(self) -> str:
        """sha256:<64 hex digits>, as decisions and cases name the bundle."""

    @property
    def policy(self) -> Dict[str, str]:
        """{"name": ..., "version": ...} of the bundle's policy."""

    @property
    def tools(self) -> List[Dict[str, Any]]:
        """The declared tools: [{"name", "doc", "params": [{"name", "type", "required"}]}],
        types as the policy writes them (Decimal, List<String>, String?)."""

class Cases:
    """Cases on an embedded SQLite store: suspended actions, approvals, evidence and the signed,
    hash-chained receipts. Several processes may share one store."""

    def __init__(self, store_path: Union[str, "os.PathLike[str]"], engine: Engine, sign_key: Optional[PathOrBytes] = None) -> None:
        """Open (or create) the store. sign_key: a signing key file (`aarm keygen`) that signs
        the receipts written. Raises StoreError."""

    def open(self, request: Request, now: Now = None) -> Decision:
        """Decide; a step_up or defer opens a case. The decision with "case" (the case id, when
        one was opened) and "receipt". A decision that cannot be recorded is a deny."""

    def approve(
        self,
        case: str,
        by: str,
        roles: Optional[Sequence[str]] = None,
        now: Now = None,
        until: Now = None,
        max: Optional[Dict[str, Cap]] = None,
    ) -> Case:
        """Approval by `by`, with the roles the host verified for them. `until` (a time, read as
        `now` is) narrows when the approval expires; `max` caps the parameters the step-up's
        `limits` lists, {"amount": 5000}, and a release carries the caps in its "limits".
        Raises CaseError: until_in_past, limit_not_allowed, limit_below_action, ..."""

    def deny(self, case: str, by: str, why: str, roles: Optional[Sequence[str]] = None, now: Now = None) -> Case:
        """Denial by `by`. Raises CaseError."""

    def provide(self, case: str, facts: Mapping[str, Any], by: Optional[str] = None, now: Now = None) -> Case:
        """Evidence for a deferral, fact name to value, each fact once. Raises CaseError."""

    def tick(self, now: Now = None) -> List[Case]:
        """Fire due timeouts and escalations; the cases that changed."""

    def get(self, case: str) -> Optional[Case]:
        """The case, or None."""

    def receipts(self, case: Optional[str] = None) -> List[Dict[str, Any]]:
        """The receipts of one case, or the whole chain in order."""

def build(path: Union[str, "os.PathLike[str]"], sign_key: Optional[PathOrBytes] = None) -> bytes:
    """Compile the policy sources at path (a directory or a file) into bundle bytes, as
    `aarm build` does. Raises BuildError with .diagnostics."""

def is_current(decision: Decision, now: Now = None) -> bool:
    """Whether the decision may still be acted on at now (the clock when None): an allow or
    modify before its expires_at. Every other decision, or a dict that is not one, is not."""

def check(path: Union[str, "os.PathLike[str]"]) -> List[Dict[str, Any]]:
    """What `aarm check PATH --format json` reports: code, severity, message, file, line,
    column, end_line, end_column, help."""
