'use strict';
// The `aarm` package: the native addon (native.js, built by `npm install`) speaks JSON text;
// this file turns JavaScript values into it and back, and native errors into the classes below.

const native = require('./native.js');

/**
 * Every error of the package. `code` is `AARM_BUNDLE`, `AARM_BUILD`, `AARM_STORE` or `AARM_USAGE`,
 * and a refused case event's own code (`not_an_approver`, ...) for `CaseError`.
 */
class AarmError extends Error {
  constructor(message, code) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
/** A bundle or a trusted key that does not load. */
class BundleError extends AarmError {}
/** Policy sources with errors; `diagnostics` lists them. */
class BuildError extends AarmError {}
/** A case event the lifecycle refused; `code` is its stable code (`not_an_approver`, ...). */
class CaseError extends AarmError {}
/** The case store failed. */
class StoreError extends AarmError {}

const CLASSES = { AARM_BUNDLE: BundleError, AARM_BUILD: BuildError, AARM_CASE: CaseError, AARM_STORE: StoreError };

/** Runs a native call; its errors become the package's classes (others pass unchanged). */
function call(fn) {
  try {
    return fn();
  } catch (e) {
    const [code, reason] = typeof e?.code === 'string' ? e.code.split(':') : [];
    if (!code || !code.startsWith('AARM_')) throw e;
    const Class = CLASSES[code] || AarmError;
    // A refused case event carries the lifecycle's stable code, as Python's CaseError.code does.
    throw new Class(e.message, reason || code);
  }
}

/** `now` for the addon: undefined (the clock), seconds since the epoch, a `Date`, or an RFC 3339 string. */
function nowArg(now) {
  return timeArg(now, 'now');
}

/** A time for the addon (`what` in the error): seconds since the epoch, a `Date`, or an RFC 3339 string. */
function timeArg(time, what) {
  if (time === undefined || time === null) return undefined;
  if (time instanceof Date) return Math.floor(time.getTime() / 1000);
  if (typeof time === 'number' || typeof time === 'string') return time;
  throw new AarmError(`${what} must be seconds since the epoch, a Date or an RFC 3339 string`, 'AARM_USAGE');
}

/**
 * An approver's caps, `{ amount: 5000 }`, as JSON text for the addon, which reads each exactly: a
 * number, a string holding one (`'12.50'`, for digits a double cannot hold) or a BigInt.
 */
function capsText(max) {
  if (max === undefined || max === null) return undefined;
  if (typeof max !== 'object' || Array.isArray(max)) {
    throw new AarmError('max must be an object of caps, such as { amount: 5000 }', 'AARM_USAGE');
  }
  try {
    return JSON.stringify(max, (_key, value) => (typeof value === 'bigint' ? value.toString() : strict(_key, value)));
  } catch (e) {
    throw new AarmError(`max: ${e.message}`, 'AARM_USAGE');
  }
}

// JSON.stringify writes NaN and Infinity as null, silently: a request carrying one is refused
// instead, as the strict reader refuses what is not JSON.
function strict(_key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TypeError(`${value} is not a JSON number`);
  }
  return value;
}

/**
 * A request as JSON text, or the reason it cannot be one. A string is taken as JSON text; an
 * object is written with JSON.stringify (a cycle, a BigInt, NaN or a nesting too deep for the
 * stack is a reason, never an exception).
 */
function requestText(request) {
  if (typeof request === 'string') return { text: request };
  try {
    const text = JSON.stringify(request, strict);
    if (text === undefined) return { invalid: `a ${typeof request} is not a JSON value` };
    return { text };
  } catch (e) {
    return { invalid: `the request cannot be written as JSON: ${e.message}` };
  }
}

/** A loaded, verified policy bundle. Immutable. */
class Engine {
  #native;
  constructor(nativeEngine) {
    this.#native = nativeEngine;
  }

  /**
   * Loads a `.aarmb` bundle from a path or a Buffer. `opts.trustedKeys`: public key files (paths
   * or Buffers); `opts.requireSignature`: refuse an unsigned bundle. Throws `BundleError`.
   */
  static load(source, opts = {}) {
    const keys = opts.trustedKeys === undefined ? undefined : Array.from(opts.trustedKeys);
    return new Engine(call(() => native.NativeEngine.load(source, keys, Boolean(opts.requireSignature))));
  }

  /** The decision for a request (object or JSON string); invalid input is a `deny` with `input.invalid`. */
  decide(request, now) {
    const { text, invalid } = requestText(request);
    const t = nowArg(now);
    const out = invalid === undefined ? call(() => this.#native.decide(text, t)) : this.#native.decideInvalid(invalid);
    return JSON.parse(out);
  }

  get bundleHash() {
    return this.#native.bundleHash;
  }

  get policy() {
    return JSON.parse(this.#native.policyJson);
  }

  get tools() {
    return JSON.parse(this.#native.toolsJson);
  }

  /** @internal the addon's engine, for `Cases`. */
  static native(engine) {
    if (!(engine instanceof Engine)) throw new AarmError('engine must be an aarm.Engine', 'AARM_USAGE');
    return engine.#native;
  }
}

/** Cases on the embedded SQLite store: suspended actions, approvals, evidence and receipts. */
class Cases {
  #native;
  constructor(storePath, engine, opts = {}) {
    this.#native = call(() => new native.NativeCases(String(storePath), Engine.native(engine), opts.signKey));
  }

  /** Decides; a `step_up` or `defer` opens a case. The decision with `case` and `receipt`. */
  open(request, now) {
    const { text, invalid } = requestText(request);
    return JSON.parse(call(() => this.#native.open(text, invalid, nowArg(now))));
  }

  /**
   * Approval by `by`. `opts.until` (a time, as `now` is read) narrows when the approval expires;
   * `opts.max` caps the parameters the step-up's `limits` lists, `{ amount: 5000 }`.
   */
  approve(caseId, by, opts = {}) {
    const until = timeArg(opts.until, 'until');
    const max = capsText(opts.max);
    return JSON.parse(call(() => this.#native.approve(caseId, by, opts.roles, nowArg(opts.now), until, max)));
  }

  deny(caseId, by, why, opts = {}) {
    return JSON.parse(call(() => this.#native.deny(caseId, by, why, opts.roles, nowArg(opts.now))));
  }

  /** Evidence: `facts` maps fact names to values, each provided once. */
  provide(caseId, facts, opts = {}) {
    const { text, invalid } = requestText(facts);
    if (invalid !== undefined) throw new AarmError(`facts: ${invalid}`, 'AARM_USAGE');
    return JSON.parse(call(() => this.#native.provide(caseId, text, opts.by, nowArg(opts.now))));
  }

  tick(now) {
    return JSON.parse(call(() => this.#native.tick(nowArg(now))));
  }

  /** The case, or null. */
  get(caseId) {
    const text = call(() => this.#native.get(caseId));
    return text === null || text === undefined ? null : JSON.parse(text);
  }

  receipts(caseId) {
    return JSON.parse(call(() => this.#native.receipts(caseId)));
  }
}

/** Bundle bytes of the policy sources at `path`. Throws `BuildError` (with `diagnostics`). */
function build(path, opts = {}) {
  try {
    return call(() => native.build(String(path), opts.signKey));
  } catch (e) {
    if (e instanceof BuildError) e.diagnostics = check(path);
    throw e;
  }
}

/**
 * Whether a decision (the object `decide` returned, or its JSON text) may still be acted on at
 * `now` (the clock when absent): an `allow` or `modify` before its `expires_at`. Anything else is
 * not current.
 */
function isCurrent(decision, now) {
  const text = typeof decision === 'string' ? decision : JSON.stringify(decision ?? null) ?? 'null';
  return call(() => native.isCurrent(text, nowArg(now)));
}

/** What `aarm check PATH --format json` reports, as an array of diagnostics. */
function check(path) {
  return JSON.parse(call(() => native.check(String(path))));
}

module.exports = { Engine, Cases, build, check, isCurrent, AarmError, BundleError, BuildError, CaseError, StoreError };
