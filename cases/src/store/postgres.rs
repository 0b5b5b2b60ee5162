//! The PostgreSQL case store: one database shared by any number of processes (`aarm serve`
//! replicas), through the rust-postgres synchronous client.
//!
//! Every write is one transaction that first takes the chain lock (a transaction-scoped advisory
//! lock, [`CHAIN_LOCK`]), then reads the chain head and the case's version: writers from every
//! process are serialized there, so a version check cannot pass twice for one version (the loser
//! gets [`StoreError::Conflict`]) and two appends cannot fork the chain. The transaction commits
//! before the call returns (PostgreSQL's default `synchronous_commit`), so an acknowledged write
//! survives a kill of the process that made it.
//!
//! The schema is created and migrated when a handle opens, by numbered migrations recorded in
//! `aarm_schema`, under another advisory lock ([`MIGRATION_LOCK`]): replicas starting at once
//! apply each migration once, and a database migrated by a newer aarm is refused.
//!
//! Tables as in [`super::sqlite`] (`meta`, `cases`, `receipts`, `applied_events`, `bundles`),
//! plus the service tables of [`super::postgres_service`]. Case and receipt rows keep their JSON
//! as text, not `jsonb`, so that a row that does not decode is quarantined as SQLite's is
//! ([`PostgresStore::unreadable`]) instead of failing the whole listing.
//!
//! Connections are plain TCP or a Unix socket (`host=/path`); a URL that asks for TLS
//! (`sslmode=require`) is refused at connect, not downgraded.

use super::chain::{case_link_after, decisions_only, stored_head, Sealer};
use super::memory::case_id;
use super::rows::{case_json, parse_receipt, receipt_json, to_i64, to_u64, Quarantine, Unreadable};
use super::service::DenialDraft;
use super::{sealed_denials, CaseStore, Recorded, StoreError};
use crate::lifecycle::case::{Case, CaseState};
use crate::lifecycle::receipt::{CaseLink, Receipt, ReceiptDraft};
use ed25519_dalek::SigningKey;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Transaction};
use std::cell::RefCell;
use std::time::Duration;

/// Keeps a denial; a second one with the same id changes nothing. Run here in the transaction
/// of the denial's receipt ([`super::CaseStore::record_keeping`]) and by the overrides store
/// (`remember_denial`), which imports it from here so that the two modules do not import each
/// other.
pub(super) const KEEP_DENIAL: &str = "INSERT INTO serve_denials (decision_id, agent, json, at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (decision_id) DO NOTHING";

/// The advisory lock every write transaction takes before it reads the chain head.
pub(crate) const CHAIN_LOCK: i64 = 0x6161_726d_0001;
/// The advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6161_726d_0002;

/// How long a connection attempt may take before the store fails (closed) instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, in order: migration `n` (from 1) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: cases, the chain, applied events, bundles, and the service tables.
    "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('last_case', 0);
CREATE TABLE cases (
    id      TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    state   TEXT NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX cases_state ON cases(state);
CREATE TABLE receipts (
    seq     BIGINT PRIMARY KEY,
    case_id TEXT REFERENCES cases(id),
    at      BIGINT NOT NULL,
    hash    TEXT NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX receipts_case ON receipts(case_id, seq);
CREATE INDEX receipts_at ON receipts(at);
CREATE TABLE applied_events (
    case_id  TEXT NOT NULL REFERENCES cases(id),
    event_id TEXT NOT NULL,
    PRIMARY KEY (case_id, event_id)
);
CREATE TABLE bundles (
    hash  TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);
CREATE TABLE serve_session_actions (
    id       BIGSERIAL PRIMARY KEY,
    agent    TEXT NOT NULL,
    session  TEXT NOT NULL,
    tool     TEXT NOT NULL,
    decision TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX serve_session_actions_at ON serve_session_actions(at);
CREATE TABLE serve_idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX serve_idempotency_keys_at ON serve_idempotency_keys(scope, created_at);
CREATE TABLE serve_deliveries (
    id           BIGSERIAL PRIMARY KEY,
    case_id      TEXT NOT NULL,
    trigger_key  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at_ms   BIGINT NOT NULL,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (case_id, trigger_key, channel)
);
CREATE INDEX serve_deliveries_due ON serve_deliveries(state, next_at_ms);
CREATE TABLE serve_health (id BIGINT PRIMARY KEY, checked_at BIGINT NOT NULL);
",
    // 2: the denials the service answered and the overrides granted on them (service.rs).
    "
CREATE TABLE serve_denials (
    decision_id TEXT PRIMARY KEY,
    agent       TEXT NOT NULL,
    json        TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE TABLE serve_overrides (
    id              TEXT PRIMARY KEY,
    overrides       TEXT NOT NULL,
    author          TEXT NOT NULL,
    json            TEXT NOT NULL,
    receipt         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    reviewer        TEXT,
    verdict         TEXT,
    note            TEXT,
    verdict_receipt TEXT,
    reviewed_at     BIGINT
);
CREATE INDEX serve_overrides_of ON serve_overrides(overrides, expires_at);
CREATE INDEX serve_overrides_unreviewed ON serve_overrides(verdict, created_at);
",
];

/// The schema version this code reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Whether a `--store` argument names a PostgreSQL database rather than a SQLite file.
pub(crate) fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// Cases, the receipt chain, applied event ids and bundles, in one PostgreSQL database.
pub struct PostgresStore {
    conn: RefCell<Connection>,
    config: Config,
    signer: Option<SigningKey>,
    quarantine: RefCell<Quarantine>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &describe(&self.config))
            .field("signed", &self.signer.is_some())
            .finish()
    }
}

/// `host:port/database` of a configuration, for messages: never the password.
pub(crate) fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(config.get_user().unwrap_or("")))
}

/// A driver error as a store failure (fail closed), naming what failed.
pub(crate) fn fail(what: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("postgres: {what}: {e}"))
}

/// Opens a connection as every connection to the store is opened.
pub(crate) fn connect(config: &Config) -> Result<Client, StoreError> {
    config
        .connect(NoTls)
        .map_err(|e| StoreError::Backend(format!("postgres: cannot connect to {}: {e}", describe(config))))
}

/// A connection to the store's database that heals: after any failure it is dropped, and the
/// next call opens a new one (a server restart, a failover, a terminated session), instead of
/// failing forever on a dead socket. The failing call itself fails (closed).
pub(crate) struct Connection {
    client: Option<Client>,
    config: Config,
}

impl Connection {
    pub(crate) fn open(config: Config) -> Result<Connection, StoreError> {
        let client = connect(&config)?;
        Ok(Connection { client: Some(client), config })
    }

    /// Runs `f` on the connection (a new one if the last failed or the server closed it).
    ///
    /// On a thread of its own: the driver's blocking client drives its own async runtime, which
    /// cannot be entered from a thread that already runs one (a host's async task calling the
    /// store would panic instead of getting an answer). The caller waits for it, as it would
    /// for SQLite.
    pub(crate) fn with<T: Send>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        let out = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let client = match &mut self.client {
                        Some(client) if !client.is_closed() => client,
                        slot => slot.insert(connect(&self.config)?),
                    };
                    f(client)
                })
                .join()
                .unwrap_or_else(|_| Err(StoreError::Backend("postgres: the store call failed".into())))
        });
        if let Err(StoreError::Backend(_)) = &out {
            self.client = None;
        }
        out
    }
}

fn parse_config(url: &str) -> Result<Config, StoreError> {
    let mut config: Config = url.parse().map_err(|e| {
        StoreError::Backend(format!(
            "not a PostgreSQL URL ({e}): expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("aarm");
    Ok(config)
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://USER@HOST:PORT/DB`), and creates or
    /// migrates the schema.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let config = parse_config(url)?;
        let mut conn = Connection::open(config.clone())?;
        conn.with(migrate)?;
        Ok(PostgresStore { conn: RefCell::new(conn), config, signer: None, quarantine: RefCell::default() })
    }

    /// Receipts stored from now on are signed with `key`.
    pub fn with_signer(mut self, key: SigningKey) -> PostgresStore {
        self.signer = Some(key);
        self
    }

    /// The database's connection settings, for the service tables' own connections.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The cases reads found unreadable (quarantined), in id order.
    pub fn unreadable(&self) -> Vec<Unreadable> {
        self.quarantine.borrow().all()
    }

    /// The unreadable cases not returned by an earlier call: what a host should log now.
    pub fn newly_unreadable(&self) -> Vec<Unreadable> {
        self.quarantine.borrow_mut().newly()
    }

    /// Runs `f` on the store's connection.
    fn with<T: Send>(&self, f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
        self.conn
            .try_borrow_mut()
            .map_err(|_| StoreError::Backend("postgres: the connection is already in use".into()))?
            .with(f)
    }

    /// Runs `write` in one transaction that holds the chain lock, and commits it.
    fn write<T: Send>(
        &self,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.with(|client| {
            let mut tx = client.transaction().map_err(fail("begin"))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK]).map_err(fail("chain lock"))?;
            // Dropping `tx` without committing rolls it back: every early return changes nothing.
            let out = write(&mut tx)?;
            tx.commit().map_err(fail("commit"))?;
            Ok(out)
        })
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<postgres::Row>, StoreError> {
        self.with(|client| client.query(sql, params).map_err(fail("read")))
    }

    fn list_cases(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Case>, StoreError> {
        let rows = self
            .query(sql, params)?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(String, String)>, postgres::Error>>()
            .map_err(fail("read cases"))?;
        Ok(self.quarantine.borrow_mut().decode_listing(rows))
    }
}

/// Brings the schema to [`SCHEMA_VERSION`], one migration at a time, under the migration lock.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(fail("begin migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(fail("migration lock"))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS aarm_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .map_err(fail("schema table"))?;
    let current: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM aarm_schema", &[])
        .and_then(|r| r.try_get(0))
        .map_err(fail("schema version"))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "case store schema version {current} is newer than this aarm supports ({SCHEMA_VERSION}): upgrade aarm to open it"
        )));
    }
    for (version, sql) in (1i64..).zip(MIGRATIONS).skip(usize::try_from(current).unwrap_or(0)) {
        tx.batch_execute(sql).map_err(|e| StoreError::Backend(format!("postgres: migration {version}: {e}")))?;
        tx.execute("INSERT INTO aarm_schema (version) VALUES ($1)", &[&version]).map_err(fail("schema version"))?;
    }
    tx.commit().map_err(fail("commit migration"))
}

fn head(tx: &mut impl GenericClient) -> Result<Option<(i64, String)>, StoreError> {
    let row =
        tx.query_opt("SELECT seq, hash FROM receipts ORDER BY seq DESC LIMIT 1", &[]).map_err(fail("chain head"))?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose().map_err(fail("chain head"))
}

/// Keeps, inside `tx`, the denials that go with the receipts `sealed`, in a savepoint: when one
/// cannot be kept, none of them is, and the receipts are committed all the same (a failed
/// statement would otherwise abort the whole transaction; see [`CaseStore::record_keeping`]).
fn keep_denials(
    tx: &mut Transaction<'_>,
    sealed: &[Receipt],
    denials: Vec<Option<DenialDraft>>,
) -> Result<(), StoreError> {
    if denials.iter().all(Option::is_none) {
        return Ok(());
    }
    // Dropped without a commit, the savepoint is rolled back: the receipts' writes stay.
    let mut savepoint = tx.savepoint("keep_denials").map_err(fail("keep denials"))?;
    for d in sealed_denials(sealed, denials) {
        savepoint.execute(KEEP_DENIAL, &[&d.decision_id, &d.agent, &d.json, &d.at]).map_err(fail("keep denial"))?;
    }
    savepoint.commit().map_err(fail("keep denials"))
}

/// Seals `drafts` after the chain head read inside `tx` (which holds the chain lock), and
/// stores them.
fn append(
    tx: &mut Transaction<'_>,
    drafts: Vec<ReceiptDraft>,
    signer: Option<&SigningKey>,
) -> Result<Vec<Receipt>, StoreError> {
    let mut sealer = Sealer::after(stored_head(head(tx)?)?, signer);
    let mut sealed = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let receipt = sealer.seal(draft, |case| case_link(tx, case))?;
        let json = receipt_json(&receipt);
        let case_id = Some(receipt.body.case.as_str()).filter(|c| !c.is_empty());
        tx.execute(
            "INSERT INTO receipts (seq, case_id, at, hash, json) VALUES ($1, $2, $3, $4, $5)",
            &[&to_i64(receipt.seq, "receipt seq")?, &case_id, &receipt.body.at, &receipt.hash, &json],
        )
        .map_err(fail("append receipt"))?;
        sealed.push(receipt);
    }
    // Every case this write changed, once each: the other replicas' waiters read it again.
    let mut changed: Vec<&str> = sealed.iter().map(|r| r.body.case.as_str()).filter(|c| !c.is_empty()).collect();
    changed.sort_unstable();
    changed.dedup();
    for case in changed {
        notify(tx, case)?;
    }
    Ok(sealed)
}

/// The next receipt of `case`, from the receipts stored so far in `tx` (including those this
/// write already inserted).
fn case_link(tx: &mut Transaction<'_>, case: &str) -> Result<CaseLink, StoreError> {
    let row = tx
        .query_one(
            "SELECT COUNT(*)::BIGINT, (SELECT hash FROM receipts WHERE case_id = $1 ORDER BY seq DESC LIMIT 1) \
             FROM receipts WHERE case_id = $1",
            &[&case],
        )
        .map_err(fail("case chain"))?;
    let (count, last): (i64, Option<String>) =
        (row.try_get(0).map_err(fail("case chain"))?, row.try_get(1).map_err(fail("case chain"))?);
    case_link_after(to_u64(count, "receipt count")?, last)
}

fn was_applied(tx: &mut impl GenericClient, case: &str, event_id: &str) -> Result<bool, StoreError> {
    tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM applied_events WHERE case_id = $1 AND event_id = $2)",
        &[&case, &event_id],
    )
    .and_then(|r| r.try_get(0))
    .map_err(fail("applied events"))
}

impl CaseStore for PostgresStore {
    fn open(&mut self, mut case: Case, mut receipt: ReceiptDraft) -> Result<(Case, Receipt), StoreError> {
        let signer = self.signer.clone();
        self.write(|tx| {
            let last: i64 = tx
                .query_one("UPDATE meta SET value = value + 1 WHERE key = 'last_case' RETURNING value", &[])
                .and_then(|r| r.try_get(0))
                .map_err(fail("case counter"))?;
            case.id = case_id(to_u64(last, "case counter")?);
            receipt.case = case.id.clone();
            tx.execute(
                "INSERT INTO cases (id, version, state, json) VALUES ($1, $2, $3, $4)",
                &[&case.id, &to_i64(case.version, "case version")?, &case.state.as_str(), &case_json(&case)?],
            )
            .map_err(fail("insert case"))?;
            let sealed = append(tx, vec![receipt], signer.as_ref())?;
            // The request's facts name the `open` receipt, known only now: the case row is
            // rewritten in the same transaction.
            if case.seal_evidence_refs(&sealed) {
                tx.execute("UPDATE cases SET json = $2 WHERE id = $1", &[&case.id, &case_json(&case)?])
                    .map_err(fail("update case"))?;
            }
            let Some(receipt) = sealed.into_iter().next() else {
                return Err(StoreError::Backend("sealing produced no receipt".into()));
            };
            Ok((case, receipt))
        })
    }

    fn commit(
        &mut self,
        case: &Case,
        receipts: Vec<ReceiptDraft>,
        event_id: Option<&str>,
    ) -> Result<Option<Vec<Receipt>>, StoreError> {
        let signer = self.signer.clone();
        self.write(|tx| {
            let stored: Option<i64> = tx
                .query_opt("SELECT version FROM cases WHERE id = $1", &[&case.id])
                .map_err(fail("read case"))?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(fail("read case"))?;
            let Some(stored) = stored else {
                return Err(StoreError::NotFound(case.id.clone()));
            };
            if let Some(event_id) = event_id {
                if was_applied(tx, &case.id, event_id)? {
                    return Ok(None);
                }
            }
            let version = to_i64(case.version, "case version")?;
            if stored.checked_add(1) != Some(version) {
                return Err(StoreError::Conflict(case.id.clone()));
            }
            // Sealed first: the evidence refs of the case name the receipts' hashes.
            let sealed = append(tx, receipts, signer.as_ref())?;
            let mut stored = case.clone();
            stored.seal_evidence_refs(&sealed);
            tx.execute(
                "UPDATE cases SET version = $2, state = $3, json = $4 WHERE id = $1",
                &[&case.id, &version, &case.state.as_str(), &case_json(&stored)?],
            )
            .map_err(fail("update case"))?;
            if let Some(event_id) = event_id {
                tx.execute("INSERT INTO applied_events (case_id, event_id) VALUES ($1, $2)", &[&case.id, &event_id])
                    .map_err(fail("applied events"))?;
            }
            Ok(Some(sealed))
        })
    }

    fn record(&mut self, receipts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
        Ok(self.record_keeping(receipts.into_iter().map(|r| (r, None)).collect())?.receipts)
    }

    fn record_keeping(&mut self, decided: Vec<(ReceiptDraft, Option<DenialDraft>)>) -> Result<Recorded, StoreError> {
        let (receipts, denials): (Vec<ReceiptDraft>, Vec<Option<DenialDraft>>) = decided.into_iter().unzip();
        decisions_only(&receipts)?;
        let signer = self.signer.clone();
        self.write(|tx| {
            let sealed = append(tx, receipts, signer.as_ref())?;
            let denials = keep_denials(tx, &sealed, denials);
            Ok(Recorded { receipts: sealed, denials })
        })
    }

    fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError> {
        self.with(|client| was_applied(client, case, event_id))
    }

    fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        let json: Option<String> = self
            .query("SELECT json FROM cases WHERE id = $1", &[&id])?
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(fail("read case"))?;
        json.map(|json| self.quarantine.borrow_mut().decode(id, &json)).transpose()
    }

    fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError> {
        // Ids are `case-` and at least six digits: by length, then text, is numeric order.
        // (`COLLATE "C"`: byte order, whatever the database's locale.)
        if pending_only {
            let (a, b) = (CaseState::PendingApproval.as_str(), CaseState::PendingEvidence.as_str());
            self.list_cases(
                "SELECT id, json FROM cases WHERE state IN ($1, $2) ORDER BY length(id), id COLLATE \"C\"",
                &[&a, &b],
            )
        } else {
            self.list_cases("SELECT id, json FROM cases ORDER BY length(id), id COLLATE \"C\"", &[])
        }
    }

    fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError> {
        let rows = match case {
            Some(id) => self.query("SELECT json FROM receipts WHERE case_id = $1 ORDER BY seq", &[&id])?,
            None => self.query("SELECT json FROM receipts ORDER BY seq", &[])?,
        };
        rows.iter().map(|r| parse_receipt(r.try_get(0).map_err(fail("read receipts"))?)).collect()
    }

    fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        stored_head(self.with(head)?)
    }

    fn last_event_at(&self) -> Result<Option<i64>, StoreError> {
        self.query("SELECT MAX(at) FROM receipts", &[])?
            .first()
            .map(|r| r.try_get::<_, Option<i64>>(0))
            .transpose()
            .map(Option::flatten)
            .map_err(fail("latest receipt time"))
    }

    fn put_bundle(&mut self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        // Content-addressed: the first copy stored under a hash is kept.
        self.with(|client| {
            client
                .execute(
                    "INSERT INTO bundles (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                    &[&hash, &bytes],
                )
                .map_err(fail("store bundle"))
        })?;
        Ok(())
    }

    fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.query("SELECT bytes FROM bundles WHERE hash = $1", &[&hash])?
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(fail("read bundle"))
    }
}

/// The notification channel case changes are sent on (followed by `postgres_listen`).
pub(crate) const CHANNEL: &str = "aarm_case_changed";

/// Sends the change of `case` to every listener, when the transaction `tx` commits.
fn notify(tx: &mut impl postgres::GenericClient, case: &str) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &case]).map_err(fail("notify"))?;
    Ok(())
}
