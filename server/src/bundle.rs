//! The decision engine: the bundle new requests are decided with, the file it was read from, and
//! the keys a bundle must be signed with. A reload (reload.rs) swaps the engine; allow and deny
//! decisions read it without taking the lifecycle's lock.

use crate::error::ApiError;
use aarm_runtime::engine::Engine;
use ed25519_dalek::VerifyingKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// The bundle file as last seen by the reloader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileStamp {
    pub len: u64,
    pub modified: Option<std::time::SystemTime>,
}

/// Reads and verifies a bundle file: hash, bytecode, and the signature when keys are trusted.
pub fn load_bundle(path: &Path, trusted: &[VerifyingKey]) -> Result<(Engine, Vec<u8>, FileStamp), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let engine = Engine::load(&bytes, trusted, !trusted.is_empty()).map_err(|e| e.to_string())?;
    Ok((engine, bytes, FileStamp { len: meta.len(), modified: meta.modified().ok() }))
}

/// The bundle new requests are decided with (swapped by a reload), its file as the reloader last
/// saw it, and the keys every bundle must be signed with.
pub struct CurrentBundle {
    engine: RwLock<Arc<Engine>>,
    /// The bundle file as the reloader last saw it.
    pub stamp: Mutex<FileStamp>,
    /// Where the bundle is read from (at start and on every reload).
    pub path: PathBuf,
    /// A bundle must be signed by one of these keys; empty: no check.
    pub trusted_keys: Vec<VerifyingKey>,
}

impl std::fmt::Debug for CurrentBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentBundle").field("path", &self.path).finish()
    }
}

impl CurrentBundle {
    /// The bundle `engine`, read from `path` as `stamp` saw it.
    pub fn new(engine: Arc<Engine>, stamp: FileStamp, path: PathBuf, trusted_keys: Vec<VerifyingKey>) -> CurrentBundle {
        CurrentBundle { engine: RwLock::new(engine), stamp: Mutex::new(stamp), path, trusted_keys }
    }

    /// The bundle new requests are decided with.
    pub fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.engine.read().map(|e| e.clone()).map_err(|_| ApiError::Unavailable("the bundle lock is poisoned".into()))
    }

    /// Makes `engine` the one new requests are decided with.
    pub(crate) fn set_engine(&self, engine: Arc<Engine>) -> Result<(), ApiError> {
        let mut current =
            self.engine.write().map_err(|_| ApiError::Unavailable("the bundle lock is poisoned".into()))?;
        *current = engine;
        Ok(())
    }
}
