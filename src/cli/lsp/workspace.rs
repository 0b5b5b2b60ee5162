//! Open buffers and the bundles they belong to, checked as `aarm check` checks them.
//!
//! A file's bundle is the directory that holds it, walked as `aarm check DIR` walks it, with what
//! its files `use`. Open buffers replace the files on disk (unsaved text wins). Every change
//! re-checks each bundle that has an open buffer, so a change in one file re-checks the files
//! that use it, in whichever bundle they are.

use aarm_compiler::analyze::analyze;
use aarm_compiler::index::Index;
use aarm_compiler::modules::ModuleSource;
use aarm_compiler::{check, load_text, load_with_overlay, Loaded};
use aarm_lang::{Diagnostic, FileId};
use lsp_types::Uri;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One open buffer.
pub struct Document {
    pub text: String,
}

/// One checked bundle: its files, diagnostics (analysis warnings included) and side table.
pub struct Analysis {
    pub loaded: Loaded,
    pub diagnostics: Vec<Diagnostic>,
    pub index: Index,
}

impl Analysis {
    /// The file of this bundle at `path` (canonical), if it has one.
    pub fn file_of(&self, path: &Path) -> Option<FileId> {
        self.loaded.modules.iter().find_map(|m| match &m.source {
            ModuleSource::File(p) if canonical(p) == path => Some(m.file),
            _ => None,
        })
    }

    /// The path of a file of this bundle (`None` for a std module).
    pub fn path_of(&self, file: FileId) -> Option<PathBuf> {
        match &self.loaded.module(file)?.source {
            ModuleSource::File(p) => Some(canonical(p)),
            ModuleSource::Std(_) => None,
        }
    }

    pub fn text(&self, file: FileId) -> &str {
        self.loaded.sources.get(file).map(|f| f.text.as_str()).unwrap_or("")
    }
}

#[derive(Default)]
pub struct Workspace {
    /// Open buffers by canonical path.
    pub documents: HashMap<PathBuf, Document>,
    /// The last check of each bundle with an open buffer, by bundle directory.
    pub bundles: BTreeMap<PathBuf, Analysis>,
}

impl Workspace {
    /// Re-checks every bundle with an open buffer; returns the files each now has diagnostics
    /// for (every file of every bundle, so that fixed files are cleared).
    pub fn recheck(&mut self) -> BTreeMap<PathBuf, Vec<(String, Diagnostic)>> {
        let roots: BTreeSet<PathBuf> = self.documents.keys().filter_map(|p| bundle_dir(p)).collect();
        let overlay: HashMap<PathBuf, String> =
            self.documents.iter().map(|(p, d)| (p.clone(), d.text.clone())).collect();
        self.bundles.clear();
        for root in roots {
            let loaded = match load_with_overlay(std::slice::from_ref(&root), overlay.clone()) {
                Ok(l) => l,
                // The directory went away (or holds only buffers never saved): check the buffers
                // alone, each as `aarm check -` would.
                Err(_) => continue,
            };
            self.bundles.insert(root, analyse(loaded));
        }
        // Buffers outside any bundle that loaded (a new file not saved yet).
        let orphans: Vec<PathBuf> = self.documents.keys().filter(|p| self.analysis_for(p).is_none()).cloned().collect();
        for path in orphans {
            let text = self.documents.get(&path).map(|d| d.text.clone().into_bytes()).unwrap_or_default();
            self.bundles.insert(path.clone(), analyse(load_text(&path, text)));
        }
        let mut out: BTreeMap<PathBuf, Vec<(String, Diagnostic)>> = BTreeMap::new();
        for a in self.bundles.values() {
            for m in &a.loaded.modules {
                if let ModuleSource::File(p) = &m.source {
                    out.entry(canonical(p)).or_default();
                }
            }
            for d in &a.diagnostics {
                if let Some(path) = a.path_of(d.file) {
                    out.entry(path).or_default().push((a.text(d.file).to_string(), d.clone()));
                }
            }
        }
        out
    }

    /// The analysis that holds the file at `path` (canonical): its own bundle first.
    pub fn analysis_for(&self, path: &Path) -> Option<(&Analysis, FileId)> {
        let own = bundle_dir(path).and_then(|d| self.bundles.get(&d)).or_else(|| self.bundles.get(path));
        if let Some(a) = own {
            if let Some(f) = a.file_of(path) {
                return Some((a, f));
            }
        }
        self.bundles.values().find_map(|a| a.file_of(path).map(|f| (a, f)))
    }
}

impl Workspace {
    /// The bundle of `path` checked with `text` in place of its buffer (what completion asks
    /// about while the buffer does not parse); the workspace is unchanged.
    pub fn analyse_variant(&self, path: &Path, text: String) -> Option<(Analysis, FileId)> {
        let mut overlay: HashMap<PathBuf, String> =
            self.documents.iter().map(|(p, d)| (p.clone(), d.text.clone())).collect();
        overlay.insert(path.to_path_buf(), text.clone());
        let loaded = match bundle_dir(path) {
            Some(root) => load_with_overlay(&[root], overlay).ok()?,
            None => load_text(path, text.into_bytes()),
        };
        let a = analyse(loaded);
        let file = a.file_of(path)?;
        Some((a, file))
    }
}

fn analyse(loaded: Loaded) -> Analysis {
    let checked = check(&loaded);
    let mut diagnostics = checked.diagnostics;
    if let Some(bundle) = &checked.bundle {
        diagnostics.extend(analyze(bundle));
    }
    Analysis { loaded, diagnostics, index: checked.index }
}

/// The bundle directory of a file: the directory that holds it. Not the file system's root or
/// the home directory: a stray `.aarm` file there would have the server walk the whole disk, so
/// it is checked alone, as `aarm check FILE` checks it.
fn bundle_dir(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let home = std::env::var_os("HOME").map(|h| canonical(Path::new(&h)));
    if dir.parent().is_none() || home.as_deref() == Some(dir) {
        return None;
    }
    dir.is_dir().then(|| dir.to_path_buf())
}

/// A path as the workspace keys it: canonical when it exists, as given otherwise.
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The file path of a `file://` URI, canonical.
pub fn uri_path(uri: &Uri) -> Option<PathBuf> {
    let url = url::Url::parse(uri.as_str()).ok()?;
    url.to_file_path().ok().map(|p| canonical(&p))
}

/// The `file://` URI of a path.
pub fn path_uri(path: &Path) -> Option<Uri> {
    url::Url::from_file_path(path).ok()?.as_str().parse().ok()
}
