//! What the compiler's property tests share.

use proptest::test_runner::{Config, RngSeed, TestRunner};

/// A property runner of `PROPTEST_CASES` cases (else `default_cases`) with a fixed seed, so the
/// suite checks the same cases on every run: a test that also asserts what the cases covered (a
/// decision kind, a share of indexed policies) must not pass on one seed and fail on the next.
/// `PROPTEST_RNG_SEED=N` (or `random`) explores other cases.
pub fn runner(default_cases: u32, max_shrink_iters: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default_cases);
    let rng_seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(_) => Config::default().rng_seed,
        Err(_) => RngSeed::Fixed(20_261_204),
    };
    TestRunner::new(Config { cases, failure_persistence: None, max_shrink_iters, rng_seed, ..Config::default() })
}
