// Type declarations of the `aarm` package (index.js).

/** A request as docs/json.md describes it: `action`, `identity`, `context`, `evidence`. */
export type Request = Record<string, unknown>;

/** When: seconds since the epoch, a `Date`, or an RFC 3339 string. Omitted: the clock. */
export type Now = number | Date | string;

export type Effect = 'allow' | 'deny' | 'modify' | 'step_up' | 'defer';

/** The decision JSON of docs/json.md. */
export interface Decision {
  decision: Effect;
  rule: string | null;
  reason: { code: string; message: string };
  policy: { name: string; version: string; bundle_hash: string };
  risk: string;
  confidence: number;
  step_up?: Record<string, unknown>;
  defer?: Record<string, unknown>;
  modified_action?: Record<string, unknown>;
  /** A released action's caps, the smallest each approver set: `{ 'params.amount': { max: '5000' } }`. */
  limits?: Record<string, { max: string }>;
  [key: string]: unknown;
}

/** `Cases.open`'s answer: the decision, the case it opened, the receipt that records it. */
export interface Opened extends Decision {
  case?: string;
  receipt?: string;
}

export type CaseState = 'pending_approval' | 'pending_evidence' | 'allowed' | 'modified' | 'denied' | 'cancelled';

/** A case as docs/lifecycle.md describes it. */
export interface Case {
  id: string;
  state: CaseState;
  request: Request;
  bundle_hash: string;
  decision: Decision;
  /** `until`: until when the approval counts; `max`: the approver's caps, exact decimal text. */
  approvals: Array<{ by: string; at: number; roles?: string[]; until?: number; max?: Record<string, string> }>;
  denials: Array<{ by: string; at: number; why: string | null }>;
  evidence: Record<string, unknown>;
  outcome: Decision | null;
  released_action: Record<string, unknown> | null;
  version: number;
  [key: string]: unknown;
}

/** A signed, hash-chained receipt as docs/audit.md describes it. */
export interface Receipt {
  seq: number;
  case?: string;
  event: string;
  actor: string | null;
  state: CaseState;
  prev: string;
  hash: string;
  signature?: { key_id: string; sig: string } | null;
  [key: string]: unknown;
}

/** A declared tool and its parameters, with types as the policy writes them (`Decimal`, `String?`). */
export interface Tool {
  name: string;
  doc: string | null;
  params: Array<{ name: string; type: string; required: boolean }>;
}

/** `aarm check --format json`'s diagnostic. */
export interface Diagnostic {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  file: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  help: string | null;
}

export interface LoadOptions {
  /** Public key files (paths, or their contents as Buffers): the signer must be one of them. */
  trustedKeys?: Array<string | Buffer>;
  /** Refuse an unsigned bundle. */
  requireSignature?: boolean;
}

export class Engine {
  private constructor();
  /** Loads a `.aarmb` bundle (a path or its bytes). Throws `BundleError`. */
  static load(source: string | Buffer, opts?: LoadOptions): Engine;
  /** Decides; invalid input is a `deny` with reason `input.invalid`, never an exception. */
  decide(request: Request | string, now?: Now): Decision;
  readonly bundleHash: string;
  readonly policy: { name: string; version: string };
  readonly tools: Tool[];
}

export class Cases {
  /** Opens (or creates) the SQLite store at `storePath` for cases of `engine`'s bundle. */
  constructor(storePath: string, engine: Engine, opts?: { signKey?: string | Buffer });
  open(request: Request | string, now?: Now): Opened;
  /**
   * Approval by `by`. `until` narrows when the approval expires (a past one is refused
   * `until_in_past`); `max` caps the parameters the step-up's `limits` lists, each read exactly
   * (a number, a string such as `'12.50'`, or a BigInt), and the release carries the caps in its
   * `limits`. Throws `CaseError` (`limit_not_allowed`, `limit_below_action`, ...).
   */
  approve(
    caseId: string,
    by: string,
    opts?: { roles?: string[]; now?: Now; until?: Now; max?: Record<string, number | string | bigint> },
  ): Case;
  deny(caseId: string, by: string, why: string, opts?: { roles?: string[]; now?: Now }): Case;
  provide(caseId: string, facts: Record<string, unknown>, opts?: { by?: string; now?: Now }): Case;
  tick(now?: Now): Case[];
  get(caseId: string): Case | null;
  receipts(caseId?: string): Receipt[];
}

/** Bundle bytes of the policy sources at `path`. Throws `BuildError` with `diagnostics`. */
export function build(path: string, opts?: { signKey?: string | Buffer }): Buffer;
/** Whether the decision may still be acted on at `now`: an allow or modify before its `expires_at`. */
export function isCurrent(decision: Decision | string, now?: number | string | Date): boolean;
/** What `aarm check PATH --format json` reports. */
export function check(path: string): Diagnostic[];

export class AarmError extends Error {
  code: string;
}
export class BundleError extends AarmError {}
export class BuildError extends AarmError {
  diagnostics: Diagnostic[];
}
export class CaseError extends AarmError {}
export class StoreError extends AarmError {}
