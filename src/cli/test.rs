//! `aarm test [PATH…] [--format human|json|junit] [--filter TEXT] [--coverage] [--min-coverage P]`:
//! runs `test` blocks through the compiler, a real bundle, the VM and the lifecycle (in-memory
//! store, simulated clock), and measures the rules and the conditions' branches they reach
//! (`aarm_compiler::coverage`). A bundle without any test fails unless `--allow-no-tests` is
//! given, and a path with no `.aarm` file is a usage error (exit 2), so that a green run always
//! means something was tested.

use super::exit;
use super::junit;
use super::output::{print_diagnostics, Format};
use super::source::{engine_of, load_path};
use aarm_compiler::compile;
use aarm_compiler::coverage::Outcome;
use aarm_compiler::test_runner::{self, TestReport};
use clap::Args;
use clap::ValueEnum;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Bundles to test: each a directory (every `.aarm` file under it, `*_test.aarm` included;
    /// one without any is an error, exit 2) or a file.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// `human`: one line per test, failures with the step, what was expected and what happened,
    /// then the rule and branch coverage; `json`: one object per bundle with every result, the
    /// coverage figures, the rules no test reached and the branches not taken; `junit`: one JUnit
    /// XML document (a `<testsuite>` per path, the coverage as properties) for CI test reporters.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Let a bundle without any `test` block pass; by default it fails (exit 1), so that a
    /// mistyped path or a deleted test file cannot make CI green having tested nothing.
    #[arg(long)]
    pub allow_no_tests: bool,
    /// Run only the tests whose name contains TEXT (case-sensitive). Rule and branch coverage
    /// then count those tests only. A filter that selects no test in any bundle fails (exit 1).
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// List, under the branch coverage line, every condition with a branch the tests did not
    /// take: FILE:LINE:COL, its text, its rule, and which of its outcomes (`true`, `false`,
    /// `unknown`) were taken. A condition is each `when` line, operand of `and`/`or` and `not`
    /// (docs/language.md, "Coverage"). The JSON and JUnit reports always carry them.
    #[arg(long)]
    pub coverage: bool,
    /// Fail (exit 1) when the tests run reach less than PERCENT of the rules, or take less than
    /// PERCENT of the branches of the rules' `when` conditions, each counted over every bundle
    /// (0 to 100).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_coverage: Option<u8>,
}

/// How test results are printed (SARIF is for diagnostics, not for test results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Junit,
}

pub fn run(args: &TestArgs) -> ExitCode {
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut broken = false;
    let mut selected = 0usize;
    let mut suites = Vec::new();
    let (mut rules_reached, mut rules_total) = (0usize, 0usize);
    let (mut branches_taken, mut branches_total) = (0usize, 0usize);
    for path in &args.paths {
        let loaded = match load_path(path) {
            Ok(l) => l,
            Err(code) => return ExitCode::from(code),
        };
        let compiled = compile(&loaded);
        let (Some(ir), Some(program)) = (compiled.checked.bundle.as_ref(), compiled.program) else {
            print_diagnostics(&compiled.checked.diagnostics, &loaded.sources, Format::Human);
            crate::errln!("error: {} does not compile; its tests did not run", path.display());
            suites.push(junit::broken_suite(&path.display().to_string(), "the bundle does not compile"));
            broken = true;
            continue;
        };
        let engine = match engine_of(&program) {
            Ok(e) => e,
            Err(e) => {
                crate::errln!("error: the compiled bundle of {} does not load: {e}", path.display());
                suites.push(junit::broken_suite(&path.display().to_string(), "the compiled bundle does not load"));
                broken = true;
                continue;
            }
        };
        let (engine, bytes) = engine;
        let report = test_runner::run(ir, Arc::new(engine), &bytes, &loaded.sources, args.filter.as_deref());
        selected += report.results.len();
        if ir.tests.is_empty() && !args.allow_no_tests {
            crate::errln!(
                "error: {} has no `test` block, so nothing was tested\n\
                 help: add a `test \"NAME\" {{ ... }}` block (e.g. in a `*_test.aarm` file), or pass \
                 `--allow-no-tests`",
                path.display()
            );
            suites.push(junit::broken_suite(&path.display().to_string(), "the bundle has no `test` block"));
            broken = true;
        }
        rules_total += report.rules_total;
        rules_reached += report.rules_reached;
        branches_total += report.branches_total;
        branches_taken += report.branches_taken;
        passed += report.passed();
        failed += report.failed();
        match args.format {
            ReportFormat::Junit => suites.push(junit::suite(&path.display().to_string(), &report)),
            ReportFormat::Json => match serde_json::to_string(&report) {
                Ok(s) => crate::outln!("{s}"),
                Err(e) => crate::errln!("error: {e}"),
            },
            ReportFormat::Human => {
                for r in &report.results {
                    match &r.failure {
                        None => crate::outln!("ok      {} ({}:{})", r.name, r.file, r.line),
                        Some(f) => {
                            crate::outln!("FAILED  {} ({}:{})", r.name, r.file, r.line);
                            crate::outln!("        step {} (line {}): expected {}", f.step, f.line, f.expected);
                            crate::outln!(
                                "        {:>width$}actual   {}",
                                "",
                                f.actual,
                                width = format!("step {} (line {}): ", f.step, f.line).len()
                            );
                        }
                    }
                }
                print_coverage(&path.display().to_string(), &report, args.coverage);
            }
        }
    }
    if let (Some(filter), 0, false) = (&args.filter, selected, broken) {
        crate::errln!(
            "error: no test name contains \"{filter}\", so nothing was tested\n\
             help: `aarm test` without `--filter` lists every test with its name"
        );
        broken = true;
    }
    if let Some(min) = args.min_coverage {
        // No rule (no branch) at all leaves nothing unreached (not taken).
        if below(rules_reached, rules_total, min) {
            crate::errln!(
                "error: the tests reach {rules_reached} of {rules_total} rules ({}), below --min-coverage {min}%\n\
                 help: add tests whose decision comes from the rules listed as not reached",
                percent(rules_reached, rules_total)
            );
            broken = true;
        }
        if below(branches_taken, branches_total, min) {
            crate::errln!(
                "error: the tests take {branches_taken} of {branches_total} branches ({}), below --min-coverage {min}%\n\
                 help: `aarm test --coverage` lists the conditions whose outcomes no test produced; add tests \
                 that make them true, false or unknown",
                percent(branches_taken, branches_total)
            );
            broken = true;
        }
    }
    match args.format {
        ReportFormat::Human => crate::outln!("{passed} passed, {failed} failed"),
        ReportFormat::Junit => match junit::render(suites) {
            Ok(xml) => crate::outln!("{xml}"),
            Err(e) => {
                crate::errln!("error: the JUnit report could not be written: {e}");
                broken = true;
            }
        },
        ReportFormat::Json => {}
    }
    if failed > 0 || broken {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

/// Whether `part` of `total` is less than `min` percent (exactly, in integers).
fn below(part: usize, total: usize, min: u8) -> bool {
    part.saturating_mul(100) < usize::from(min).saturating_mul(total)
}

/// `part` of `total` as a percentage rounded down to a tenth (`66.6%`), so that only a full
/// count reads `100.0%`; nothing to count is `100.0%`, as nothing is missed.
fn percent(part: usize, total: usize) -> String {
    let tenths = match total {
        0 => 1000,
        _ => part.saturating_mul(1000) / total,
    };
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// The human report's coverage lines of one bundle (`path`); `detailed`: every condition with a
/// branch not taken, else how many there are.
fn print_coverage(path: &str, report: &TestReport, detailed: bool) {
    crate::outln!(
        "rule coverage {path}: {} of {} rules reached by a test ({})",
        report.rules_reached,
        report.rules_total,
        percent(report.rules_reached, report.rules_total)
    );
    for name in &report.rules_not_reached {
        crate::outln!("        not reached: {name}");
    }
    crate::outln!(
        "branch coverage {path}: {} of {} branches taken ({})",
        report.branches_taken,
        report.branches_total,
        percent(report.branches_taken, report.branches_total)
    );
    let missing = report.branches_total.saturating_sub(report.branches_taken);
    if !detailed {
        match missing {
            0 => {}
            1 => crate::outln!("        --coverage lists the branch not taken"),
            n => crate::outln!("        --coverage lists the {n} branches not taken"),
        }
        return;
    }
    for c in &report.branches_not_taken {
        let marks: Vec<String> = Outcome::ALL
            .into_iter()
            .filter_map(|o| match (c.taken.contains(&o), c.not_taken.contains(&o)) {
                (true, _) => Some(format!("{} ✓", o.as_str())),
                (false, true) => Some(format!("{} ✗", o.as_str())),
                (false, false) => None,
            })
            .collect();
        crate::outln!(
            "        {}:{}:{} `{}` (rule {}): {}",
            c.file,
            c.line,
            c.column,
            c.condition,
            c.rule,
            marks.join("  ")
        );
    }
}
