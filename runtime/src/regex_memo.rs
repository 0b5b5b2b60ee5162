//! Compiled `matches` patterns remembered for the life of the process.
//!
//! Loading a bundle compiled each of its patterns twice (the verifier, then the engine), the same
//! patterns come back in every bundle that uses `std.net` or `std.text`, and the reference
//! interpreter compiled a pattern at every evaluation: the differential tests and fuzz targets
//! spent a visible share of their time compiling the same few patterns again. A compiled pattern
//! depends on its text and the compile function alone, so a remembered one (a clone of the
//! compiled regex, or the same error) is the one compiling gives.

use regex::Regex;
use std::sync::Mutex;

/// At most this many patterns are remembered per memo (it is emptied when full): each is as
/// large as its compile function allows (4 MiB for the verifier's limits, so 64 MiB at most
/// however hostile the bundles).
const REMEMBERED: usize = 16;
/// Longer patterns are compiled every time, never remembered.
const REMEMBERED_BYTES: usize = 1024;

/// A bounded memo of the patterns one compile function compiled.
pub struct RegexMemo {
    compile: fn(&str) -> Result<Regex, regex::Error>,
    memo: Mutex<Vec<(String, Result<Regex, regex::Error>)>>,
}

impl RegexMemo {
    /// An empty memo of what `compile` gives.
    pub const fn new(compile: fn(&str) -> Result<Regex, regex::Error>) -> RegexMemo {
        RegexMemo { compile, memo: Mutex::new(Vec::new()) }
    }

    /// `compile(pattern)`, remembered.
    pub fn compile(&self, pattern: &str) -> Result<Regex, regex::Error> {
        if pattern.len() > REMEMBERED_BYTES {
            return (self.compile)(pattern);
        }
        // A poisoned lock (a panic elsewhere while holding it) only costs the memo.
        if let Ok(memo) = self.memo.lock() {
            if let Some((_, compiled)) = memo.iter().find(|(p, _)| p == pattern) {
                return compiled.clone();
            }
        }
        // Compiled without holding the lock: another thread may compile the same pattern
        // meanwhile, and whichever result is stored is the same.
        let compiled = (self.compile)(pattern);
        if let Ok(mut memo) = self.memo.lock() {
            if !memo.iter().any(|(p, _)| p == pattern) {
                if memo.len() >= REMEMBERED {
                    memo.clear();
                }
                memo.push((pattern.to_string(), compiled.clone()));
            }
        }
        compiled
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A compiled pattern as compared: its text and its matches, or its error message.
    type Behaviour = Result<(String, Vec<Option<(usize, usize)>>), String>;

    /// What a compiled pattern is, for comparison: its pattern text and where it matches a few
    /// texts; an error by its message.
    fn behaviour(compiled: &Result<Regex, regex::Error>) -> Behaviour {
        let texts = ["", "a", "aab", "USD", "usd", "xUsDy", "ab\nab", "192.168.0.1", "a.b-c_d", "\u{e9}t\u{e9}"];
        match compiled {
            Ok(re) => {
                Ok((re.as_str().to_string(), texts.iter().map(|t| re.find(t).map(|m| (m.start(), m.end()))).collect()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// A remembered pattern is the pattern compiled afresh: valid, malformed, past the size
    /// limit, too long to be remembered; the first answer and later ones, also after the memo has
    /// filled and been emptied (more distinct patterns than it holds, then the first ones again).
    /// Two memos of different compile functions never answer for each other.
    #[test]
    fn a_remembered_regex_is_the_one_compiling_gives() {
        static LIMITED: RegexMemo = RegexMemo::new(crate::verify::compile_regex_afresh);
        let limited = crate::verify::compile_regex_afresh;
        static PLAIN: RegexMemo = RegexMemo::new(Regex::new);
        let long = "a".repeat(REMEMBERED_BYTES + 1);
        let mut patterns: Vec<String> = vec![
            "^a+b?$".into(),
            "(?i)usd".into(),
            "([".into(),
            "\\p{NoSuchClass}".into(),
            "\\w{1000}{1000}".into(),
            long,
            "^\\d+\\.\\d+\\.\\d+\\.\\d+$".into(),
        ];
        patterns.extend((0..2 * REMEMBERED).map(|i| format!("a{{{i}}}b")));
        for _ in 0..3 {
            for p in &patterns {
                assert_eq!(behaviour(&LIMITED.compile(p)), behaviour(&limited(p)), "{p}");
                assert_eq!(behaviour(&PLAIN.compile(p)), behaviour(&Regex::new(p)), "{p}");
            }
        }
        assert!(LIMITED.compile("([").is_err());
        assert!(LIMITED.compile("\\w{1000}{1000}").is_err(), "past the size limit");
    }
}
