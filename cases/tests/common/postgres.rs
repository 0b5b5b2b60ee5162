//! A throwaway PostgreSQL for tests: one cluster per test binary, one fresh database per test.
//!
//! With `AARM_TEST_POSTGRES_URL` set (a URL whose user may `CREATE DATABASE`), the databases are
//! made there. Otherwise the first test that asks starts a cluster of its own from the
//! machine's PostgreSQL binaries (`/usr/lib/postgresql/*/bin`): `initdb` in a temporary
//! directory (as the `postgres` user when the tests run as root, which PostgreSQL refuses to
//! run as), a free loopback port, its socket in that directory. The server runs under a shell
//! that waits on a pipe from this process: when the test binary exits, however it exits, the
//! pipe closes and the shell stops the server and removes the directory.
//!
//! Without binaries or a URL the PostgreSQL tests are skipped with a loud message, unless
//! `AARM_REQUIRE_POSTGRES=1` (as `.ci/run` sets), where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a fresh cluster may take to accept connections (a loaded machine is slow).
const START_BOUND: Duration = Duration::from_secs(90);

struct Server {
    /// `postgres://USER@HOST:PORT`, without a database.
    base: String,
    /// The database to connect to when creating others.
    admin_db: String,
}

/// The supervisor of this binary's own cluster: kept (never dropped) until the process exits.
static SUPERVISOR: Mutex<Option<(Child, ChildStdin)>> = Mutex::new(None);
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The URL of a new, empty database for one test; `None` (after a loud message) when this
/// machine has no PostgreSQL and none is required.
pub fn database() -> Option<String> {
    let server = match SERVER.get_or_init(server) {
        Ok(server) => server,
        Err(why) => {
            if std::env::var("AARM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("AARM_REQUIRE_POSTGRES=1 but no PostgreSQL for the tests: {why}");
            }
            eprintln!("\n!!! SKIPPED: a PostgreSQL test ran without PostgreSQL: {why}");
            eprintln!("!!! install Debian's `postgresql` package or set AARM_TEST_POSTGRES_URL\n");
            return None;
        }
    };
    let name = format!("aarm_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let mut admin = postgres::Client::connect(&format!("{}/{}", server.base, server.admin_db), postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {}: {e}", server.base));
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    Some(format!("{}/{name}", server.base))
}

fn server() -> Result<Server, String> {
    if let Ok(url) = std::env::var("AARM_TEST_POSTGRES_URL") {
        url.parse::<postgres::Config>().map_err(|e| format!("AARM_TEST_POSTGRES_URL: {e}"))?;
        let (base, db) = url.rsplit_once('/').ok_or("AARM_TEST_POSTGRES_URL names no database")?;
        return Ok(Server { base: base.to_string(), admin_db: db.to_string() });
    }
    start_cluster()
}

/// The newest `/usr/lib/postgresql/N/bin` that has `initdb`.
fn binaries() -> Result<PathBuf, String> {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|_| format!("{} does not exist", root.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| format!("no initdb under {}", root.display()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program args…`, as the `postgres` user when we are root.
fn command(as_postgres: bool, program: &str) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn start_cluster() -> Result<Server, String> {
    let bin = binaries()?;
    let as_postgres = is_root();
    // A unique directory, removed when dropped: by the error returns below, until the supervisor
    // that removes it when this process exits is running.
    let temp = tempfile::Builder::new().prefix("aarm-pg-").tempdir().map_err(|e| format!("a temp dir: {e}"))?;
    let dir = temp.path().to_path_buf();
    if as_postgres {
        let status = Command::new("chown").arg("postgres:").arg(&dir).status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("cannot give {} to the postgres user", dir.display()));
        }
    }
    let data = dir.join("data");
    let out = command(as_postgres, &bin.join("initdb").to_string_lossy())
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = free_port()?;
    // The shell starts the server, then blocks reading the pipe; end of file (this process
    // gone) stops the server (fast shutdown) and removes the directory. Durability settings
    // are off: these clusters hold test data only.
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 >'{dir}/log' 2>&1 & pid=$!; \
         cat >/dev/null; kill -INT $pid; wait $pid; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut child = command(as_postgres, "sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let stdin = child.stdin.take().ok_or("no pipe to the supervisor")?;
    *SUPERVISOR.lock().unwrap() = Some((child, stdin));
    // The supervisor removes it from now on (as the postgres user, after the server stopped).
    let _ = temp.keep();

    let base = format!("postgres://postgres@127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        match postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls) {
            Ok(_) => return Ok(Server { base, admin_db: "postgres".into() }),
            Err(e) if started.elapsed() > START_BOUND => {
                let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                return Err(format!("the test cluster did not start within {START_BOUND:?}: {e}\n{log}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
