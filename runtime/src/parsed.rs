//! The built-in methods that read structure out of a string: URLs, IP addresses and networks,
//! UTC offsets and time zones. Each uses the parser that the systems a policy guards use (WHATWG
//! URLs as browsers and HTTP clients read them, `std::net` and `ipnet` addresses, the IANA time
//! zone database bundled with `jiff`), so that a policy and the host never disagree on what a
//! string means. A string a method cannot read is [`EvalError::Unparsable`]: the rule fails and
//! denies, never a guess.
//!
//! [`parsed_operand`] tells the checker which operands a method parses, so that a literal it
//! cannot read is a compile-time error rather than a deny at run time.

use crate::bytecode::MethodOp;
use crate::eval_error::EvalError;
use std::net::IpAddr;

/// A WHATWG URL; the `what` of the error names the method.
fn url(s: &str, method: &'static str) -> Result<url::Url, EvalError> {
    url::Url::parse(s).map_err(|_| EvalError::Unparsable(method))
}

/// `s.url_scheme()`: lower-cased (`HTTPS://x` → `https`).
pub(crate) fn url_scheme(s: &str) -> Result<String, EvalError> {
    Ok(url(s, "`url_scheme`: the string is not an absolute URL")?.scheme().to_string())
}

/// `s.url_host()`: the host the URL connects to. Domains are lower-cased (internationalized ones
/// in their `xn--` form) without a final dot (`github.com.` is `github.com`, so that a suffix test
/// cannot be dodged with it); IP addresses are written as `std::net` writes them, IPv6 without
/// brackets (`https://[::1]/` → `::1`), so `in_cidr` reads them. A URL without a host
/// (`mailto:a@b`) is an evaluation error.
pub(crate) fn url_host(s: &str) -> Result<String, EvalError> {
    let parsed = url(s, "`url_host`: the string is not an absolute URL")?;
    match parsed.host() {
        Some(url::Host::Domain(d)) => Ok(d.strip_suffix('.').unwrap_or(d).to_string()),
        Some(url::Host::Ipv4(a)) => Ok(a.to_string()),
        Some(url::Host::Ipv6(a)) => Ok(a.to_string()),
        None => Err(EvalError::Unparsable("`url_host`: the URL has no host")),
    }
}

/// `s.url_port()`: the explicit port, else the scheme's default (443 for `https`); a URL with
/// neither is an evaluation error.
pub(crate) fn url_port(s: &str) -> Result<i64, EvalError> {
    url(s, "`url_port`: the string is not an absolute URL")?
        .port_or_known_default()
        .map(i64::from)
        .ok_or(EvalError::Unparsable("`url_port`: the URL has no port and its scheme has no default port"))
}

/// `s.url_path()`: as the URL serializes it (dot segments resolved, `\` read as `/` in the
/// schemes that browsers treat so, percent-escapes kept as written).
pub(crate) fn url_path(s: &str) -> Result<String, EvalError> {
    Ok(url(s, "`url_path`: the string is not an absolute URL")?.path().to_string())
}

/// `s.url_query()`: the query without its `?`, empty when the URL has none.
pub(crate) fn url_query(s: &str) -> Result<String, EvalError> {
    Ok(url(s, "`url_query`: the string is not an absolute URL")?.query().unwrap_or("").to_string())
}

/// An IPv4 or IPv6 address as `std::net` reads it (dotted quads without leading zeros; IPv6 in
/// any RFC 4291 form, without brackets or a zone).
fn ip(s: &str) -> Result<IpAddr, EvalError> {
    s.parse().map_err(|_| EvalError::Unparsable("`in_cidr`: the string is not an IPv4 or IPv6 address"))
}

/// `s.is_ip()`: whether `in_cidr` reads `s` as an address (never an error).
pub(crate) fn is_ip(s: &str) -> bool {
    ip(s).is_ok()
}

/// A CIDR block, IPv4 (`10.0.0.0/8`) or IPv6 (`fc00::/7`); host bits are ignored.
fn block(s: &str) -> Result<ipnet::IpNet, EvalError> {
    s.parse().map_err(|_| {
        EvalError::Unparsable("`in_cidr`: the block is not an IPv4 or IPv6 CIDR block (`10.0.0.0/8`, `fc00::/7`)")
    })
}

/// `ip.in_cidr(block)`. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is in the IPv4 blocks
/// that hold the IPv4 address, as a host that connects to it reaches that address; an address
/// and a block of different families are otherwise never in each other.
pub(crate) fn in_cidr(address: &str, network: &str) -> Result<bool, EvalError> {
    let address = ip(address)?;
    let network = block(network)?;
    Ok(network.contains(&address) || network.contains(&address.to_canonical()))
}

/// `Z`, `UTC`, `GMT`, or one of them (or nothing) followed by `+`/`-` and `H`, `HH`, `H:MM`,
/// `HH:MM` or `HHMM` (hours at most 23, minutes at most 59): the offset in seconds east of UTC.
pub(crate) fn fixed_offset(s: &str) -> Option<i64> {
    if s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let rest = ["utc", "gmt"]
        .iter()
        .find(|p| s.get(..3).is_some_and(|head| head.eq_ignore_ascii_case(p)))
        .map_or(s, |_| s.get(3..).unwrap_or(""));
    if rest.is_empty() {
        return (rest.len() != s.len()).then_some(0);
    }
    let (sign, digits) = match rest.split_at_checked(1)? {
        ("+", d) => (1, d),
        ("-", d) => (-1, d),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at_checked(2)?,
        None => (digits, "00"),
    };
    let number = |d: &str, max: i64, widths: &[usize]| {
        (widths.contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
            .then(|| d.parse::<i64>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    Some(sign * (number(hours, 23, &[1, 2])? * 3600 + number(minutes, 59, &[2])? * 60))
}

/// `s.utc_offset()`: a fixed offset only; a zone name has no one offset.
pub(crate) fn utc_offset(s: &str) -> Result<i64, EvalError> {
    fixed_offset(s).ok_or(EvalError::Unparsable(
        "`utc_offset`: the string is not a UTC offset (`+05:30`, `-08:00`, `Z`); for a zone name such as \
         `Europe/Paris` use `t.offset_in(zone)`, whose answer depends on the instant",
    ))
}

/// A zone: a fixed offset as [`fixed_offset`] reads it, or an IANA name (`Europe/Paris`, any
/// case) from the tz database compiled into the binary, so every host answers alike.
fn zone(s: &str) -> Result<jiff::tz::TimeZone, EvalError> {
    const NOT_A_ZONE: EvalError = EvalError::Unparsable(
        "`offset_in`: the zone is neither an IANA time zone (`Europe/Paris`) nor a UTC offset (`+05:30`)",
    );
    if let Some(seconds) = fixed_offset(s) {
        let seconds = i32::try_from(seconds).map_err(|_| NOT_A_ZONE)?;
        let offset = jiff::tz::Offset::from_seconds(seconds).map_err(|_| NOT_A_ZONE)?;
        return Ok(jiff::tz::TimeZone::fixed(offset));
    }
    jiff::tz::db().get(s).map_err(|_| NOT_A_ZONE)
}

/// `t.offset_in(zone)`: the offset east of UTC in force at the instant `t` (seconds since the
/// epoch) in `zone`, daylight saving included.
pub(crate) fn offset_in(t: i64, zone_name: &str) -> Result<i64, EvalError> {
    let tz = zone(zone_name)?;
    let instant = jiff::Timestamp::from_second(t)
        .map_err(|_| EvalError::Unparsable("`offset_in`: the time is outside the range of the time zone database"))?;
    Ok(i64::from(tz.to_offset(instant).seconds()))
}

/// Whether a method can read a string in one operand position.
type Reader = fn(&str) -> Result<(), EvalError>;

/// An operand of a method that the method parses, and the form it must have.
#[derive(Clone, Copy, Debug)]
pub struct ParsedOperand {
    /// The form, for a help line: "an IANA time zone (`Europe/Paris`) or a UTC offset (`+05:30`)".
    pub expects: &'static str,
    check: Reader,
}

impl ParsedOperand {
    /// Whether the method can read `s` in this position (the error says why not).
    pub fn check(&self, s: &str) -> Result<(), EvalError> {
        (self.check)(s)
    }
}

/// The operand `position` (0 the receiver, 1 the first argument) of `op` when `op` parses it.
pub fn parsed_operand(op: MethodOp, position: usize) -> Option<ParsedOperand> {
    const URL: &str = "an absolute URL, such as `https://api.example.com/v1`";
    let (expects, check): (&'static str, Reader) = match (op, position) {
        (MethodOp::UrlScheme, 0) => (URL, |s| url_scheme(s).map(drop)),
        (MethodOp::UrlHost, 0) => (URL, |s| url_host(s).map(drop)),
        (MethodOp::UrlPort, 0) => (URL, |s| url_port(s).map(drop)),
        (MethodOp::UrlPath, 0) => (URL, |s| url_path(s).map(drop)),
        (MethodOp::UrlQuery, 0) => (URL, |s| url_query(s).map(drop)),
        (MethodOp::InCidr, 0) => ("an IPv4 or IPv6 address, such as `10.1.2.3` or `fd00::1`", |s| ip(s).map(drop)),
        (MethodOp::InCidr, 1) => ("a CIDR block, such as `10.0.0.0/8` or `fc00::/7`", |s| block(s).map(drop)),
        (MethodOp::UtcOffset, 0) => ("a UTC offset, such as `+05:30`, `UTC-8` or `Z`", |s| utc_offset(s).map(drop)),
        (MethodOp::OffsetIn, 1) => {
            ("an IANA time zone, such as `Europe/Paris`, or a UTC offset, such as `+05:30`", |s| zone(s).map(drop))
        }
        _ => return None,
    };
    Some(ParsedOperand { expects, check })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts_are_what_an_http_client_connects_to() {
        for (u, host) in [
            // WHATWG reads `\` as `/` in http(s): the host ends before it, whatever follows.
            ("https://evil.example\\@github.com/upload", "evil.example"),
            ("https://github.com@evil.example/x", "evil.example"),
            ("https://user:pw@API.Example.COM:8443/v1?q#f", "api.example.com"),
            ("https://github.com./", "github.com"),
            ("https://[::1]:8080/", "::1"),
            ("https://0x7f.1/", "127.0.0.1"),
            ("https://2130706433/", "127.0.0.1"),
            ("https://bücher.example/", "xn--bcher-kva.example"),
            ("  https://example.com/\t", "example.com"),
        ] {
            assert_eq!(url_host(u).unwrap(), host, "{u}");
        }
        for u in ["example.com/path", "https://", "mailto:a@b.example", "https://exa mple.com/", "http://[::1/"] {
            assert!(matches!(url_host(u), Err(EvalError::Unparsable(_))), "{u}");
        }
    }

    #[test]
    fn url_parts() {
        assert_eq!(url_scheme("HTTPS://x.example").unwrap(), "https");
        assert_eq!(url_port("https://x.example/").unwrap(), 443);
        assert_eq!(url_port("http://x.example:8080/").unwrap(), 8080);
        assert!(url_port("foo://x.example/").is_err());
        assert_eq!(url_path("https://x.example/a/../b/./c").unwrap(), "/b/c");
        assert_eq!(url_path("https://x.example").unwrap(), "/");
        assert_eq!(url_query("https://x.example/?a=1&b").unwrap(), "a=1&b");
        assert_eq!(url_query("https://x.example/#?no").unwrap(), "");
    }

    #[test]
    fn cidr_blocks_of_both_families() {
        let yes = |a, b| assert!(in_cidr(a, b).unwrap(), "{a} in {b}");
        let no = |a, b| assert!(!in_cidr(a, b).unwrap(), "{a} not in {b}");
        yes("10.1.2.3", "10.0.0.0/8");
        no("11.1.2.3", "10.0.0.0/8");
        yes("10.9.9.9", "10.1.2.3/8");
        yes("8.8.8.8", "0.0.0.0/0");
        yes("fd00::1", "fc00::/7");
        no("2001:db8::1", "fc00::/7");
        yes("::1", "::1/128");
        // An IPv4 address written as IPv6 is that IPv4 address.
        yes("::ffff:127.0.0.1", "127.0.0.0/8");
        yes("::ffff:127.0.0.1", "::ffff:0:0/96");
        no("10.0.0.1", "::/0");
        no("::1", "0.0.0.0/0");
        assert!(is_ip("::ffff:10.0.0.1") && is_ip("10.0.0.1") && is_ip("fe80::1"));
        assert!(!is_ip("localhost") && !is_ip("[::1]") && !is_ip("010.0.0.1") && !is_ip(""));
        for (a, b) in [
            ("10.0.0.256", "10.0.0.0/8"),
            ("010.0.0.1", "10.0.0.0/8"),
            (" 10.0.0.1", "10.0.0.0/8"),
            ("fe80::1%eth0", "fe80::/10"),
            ("[::1]", "::1/128"),
            ("host.corp", "10.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0"),
            ("10.0.0.1", "10.0.0.0/33"),
            ("::1", "::/129"),
            ("10.0.0.1", "10.0.0.0/"),
            ("10.0.0.1", "10.0.0.0/8/9"),
        ] {
            assert!(matches!(in_cidr(a, b), Err(EvalError::Unparsable(_))), "{a} in {b}");
        }
    }

    #[test]
    fn zones_are_iana_names_or_fixed_offsets() {
        // 2026-07-01T12:00:00Z (summer) and 2026-11-24T10:00:00Z (winter).
        let (summer, winter) = (1_782_907_200, 1_795_514_400);
        assert_eq!(offset_in(summer, "Europe/Paris").unwrap(), 7_200);
        assert_eq!(offset_in(winter, "Europe/Paris").unwrap(), 3_600);
        assert_eq!(offset_in(winter, "europe/paris").unwrap(), 3_600);
        assert_eq!(offset_in(summer, "America/New_York").unwrap(), -14_400);
        assert_eq!(offset_in(winter, "Asia/Kolkata").unwrap(), 19_800);
        assert_eq!(offset_in(winter, "CET").unwrap(), 3_600);
        assert_eq!(offset_in(summer, "+05:30").unwrap(), 19_800);
        assert_eq!(offset_in(summer, "UTC").unwrap(), 0);
        for z in ["Europe/Pari", "", "Mars/Olympus", "+24:00", "../../etc/passwd"] {
            assert!(matches!(offset_in(winter, z), Err(EvalError::Unparsable(_))), "{z:?}");
        }
        assert!(matches!(offset_in(i64::MAX, "Europe/Paris"), Err(EvalError::Unparsable(_))));
    }

    #[test]
    fn the_checker_reads_literals_as_the_methods_do() {
        let zone = parsed_operand(MethodOp::OffsetIn, 1).unwrap();
        assert!(zone.check("Europe/Paris").is_ok());
        assert!(zone.check("Europe/Pari").is_err());
        assert!(parsed_operand(MethodOp::OffsetIn, 0).is_none());
        assert!(parsed_operand(MethodOp::InCidr, 1).unwrap().check("10.0.0.0/33").is_err());
        assert!(parsed_operand(MethodOp::UrlHost, 0).unwrap().check("mailto:a@b").is_err());
        assert!(parsed_operand(MethodOp::Split, 1).is_none());
    }
}
