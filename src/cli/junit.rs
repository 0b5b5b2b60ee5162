//! `aarm test --format junit`: the results as JUnit XML, the report CI systems (GitLab, Jenkins,
//! GitHub test reporters) read. One `<testsuite>` per bundle path, one `<testcase>` per test; a
//! bundle that does not compile, or has no test when tests are required, is one errored case, so
//! a CI system never shows such a bundle as green.

use aarm_compiler::test_runner::TestReport;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

/// The suite of one bundle's results, with its rule and branch coverage as properties.
pub fn suite(path: &str, report: &TestReport) -> TestSuite {
    let mut suite = TestSuite::new(path);
    for r in &report.results {
        let status = match &r.failure {
            None => TestCaseStatus::success(),
            Some(f) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("step {} (line {}): expected {}", f.step, f.line, f.expected));
                s.set_type("step");
                s.set_description(format!("expected {}\nactual   {}", f.expected, f.actual));
                s
            }
        };
        let mut case = TestCase::new(r.name.as_str(), status);
        case.set_classname(format!("{}:{}", r.file, r.line));
        suite.add_test_case(case);
    }
    suite.add_property(Property::new("rules_reached", report.rules_reached.to_string()));
    suite.add_property(Property::new("rules_total", report.rules_total.to_string()));
    for name in &report.rules_not_reached {
        suite.add_property(Property::new("rule_not_reached", name.as_str()));
    }
    suite.add_property(Property::new("branches_taken", report.branches_taken.to_string()));
    suite.add_property(Property::new("branches_total", report.branches_total.to_string()));
    // One property per branch not taken: `FILE:LINE:COL `CONDITION` OUTCOME (rule NAME)`.
    for c in &report.branches_not_taken {
        for outcome in &c.not_taken {
            let value =
                format!("{}:{}:{} `{}` {} (rule {})", c.file, c.line, c.column, c.condition, outcome.as_str(), c.rule);
            suite.add_property(Property::new("branch_not_taken", value));
        }
    }
    suite
}

/// A bundle whose tests could not run (`why` says so) as one errored case.
pub fn broken_suite(path: &str, why: &str) -> TestSuite {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(why);
    let mut suite = TestSuite::new(path);
    suite.add_test_case(TestCase::new(path, status));
    suite
}

/// The whole run as one document.
pub fn render(suites: Vec<TestSuite>) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("aarm test");
    report.add_test_suites(suites);
    report.to_string()
}
