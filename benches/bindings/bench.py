"""aarm's Python package against cedarpy on the comparison workload: nanoseconds per call.

Run by benches/bindings/run.sh: `python bench.py WORKLOAD_DIR RUST_DECIDE_JSON_NS`.
"""

import json
import pathlib
import statistics
import sys
import time

import aarm
import cedarpy

NOW = 1_790_000_000  # the workload reads no time; the same clock as the Rust side


def per_call_ns(fn, items, rounds=11, slice_s=0.1):
    """Median over rounds of ns per call; each round runs whole passes over items for a slice."""
    samples = []
    for _ in range(rounds):
        n = 0
        start = time.perf_counter_ns()
        while True:
            for item in items:
                fn(item)
            n += len(items)
            elapsed = time.perf_counter_ns() - start
            if elapsed >= slice_s * 1e9:
                break
        samples.append(elapsed / n)
    return statistics.median(samples)


def main():
    work = pathlib.Path(sys.argv[1])
    rust_ns = float(sys.argv[2])
    calls = json.loads((work / "calls.json").read_text())
    policies = (work / "policy.cedar").read_text()
    engine = aarm.Engine.load(aarm.build(work / "policy.aarm"))
    requests = [c["request"] for c in calls]
    cedar_requests = [c["cedar"] for c in calls]

    # Both engines decide as the rule model does, on every call, before anything is timed.
    for c in calls:
        assert (engine.decide(c["request"], now=NOW)["decision"] == "allow") == c["allow"], c
    results = cedarpy.is_authorized_batch(cedar_requests, policies, [])
    for c, r in zip(calls, results):
        assert (r.decision == cedarpy.Decision.Allow) == c["allow"], (c, r)

    aarm_ns = per_call_ns(lambda r: engine.decide(r, now=NOW), requests)
    text_ns = per_call_ns(lambda t: engine.decide(t, now=NOW), [json.dumps(r) for r in requests])
    cedar_few = cedar_requests[:50]
    cedar_ns = per_call_ns(lambda r: cedarpy.is_authorized(r, policies, []), cedar_few, rounds=5)
    batch_ns = per_call_ns(lambda rs: cedarpy.is_authorized_batch(rs, policies, []), [cedar_requests], rounds=5) / len(
        cedar_requests
    )
    print(f"python aarm Engine.decide(dict)        {aarm_ns:10.0f} ns")
    print(f"python aarm Engine.decide(json str)    {text_ns:10.0f} ns")
    print(f"python cedarpy.is_authorized           {cedar_ns:10.0f} ns   ({cedar_ns / aarm_ns:.1f}x aarm)")
    print(f"python cedarpy.is_authorized_batch     {batch_ns:10.0f} ns   ({batch_ns / aarm_ns:.1f}x aarm, per call of {len(cedar_requests)})")
    print(f"rust   Engine::decide_json             {rust_ns:10.0f} ns   (aarm from Python: {aarm_ns / rust_ns:.2f}x)")


if __name__ == "__main__":
    main()
