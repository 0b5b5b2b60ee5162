//! The module loader: from the roots given on the command line to every parsed file of a bundle.
//!
//! - Each root is a file (loaded whatever its extension) or a directory, walked recursively for
//!   `*.aarm` files in sorted order, skipping hidden entries and `target` directories.
//! - Files are read as bytes: a file larger than [`MAX_SOURCE_BYTES`] is reported as E0022 and one
//!   that is not UTF-8 as E0023 (at the first bad byte); neither is parsed, but both are added to
//!   the [`SourceMap`] (and get a [`Module`] with an empty syntax tree) so that diagnostics can name
//!   them. Everything else goes to [`aarm_lang::parse`].
//! - `use ./x` and `use ../dir/x` name a file relative to the directory of the using file (`.aarm`
//!   is appended when missing); a file not loaded yet is loaded too. `use std.NAME` names an
//!   embedded standard library module ([`crate::stdlib`]), shown as `std.NAME`. Every file and
//!   every std module is loaded once, however many roots and `use`s reach it (paths are compared
//!   canonicalized).
//! - The `use` graph is checked for cycles: each strongly connected component is reported once as
//!   E0051, at the `use` that closes the cycle, and so is every file that uses itself.
//!
//! Problems in the policy are diagnostics in [`Loaded::diagnostics`]; only a root that cannot be
//! found or read is a [`LoadError`] (the CLI exits 2).

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use aarm_lang::ast::{self, ItemKind, UseDecl};
use aarm_lang::diagnostic::{did_you_mean, Diagnostics};
use aarm_lang::limits::MAX_SOURCE_BYTES;
use aarm_lang::{Code, Diagnostic, FileId, SourceMap, Span};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::stdlib::{std_module, STD_MODULES};

/// Where a module comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModuleSource {
    /// A file, by its path as the user would recognise it (relative as given, `.`/`..` folded).
    /// For [`load_sources`], the name as given.
    File(PathBuf),
    /// An embedded standard library module: `Std("text")` for `use std.text`.
    Std(String),
}

impl ModuleSource {
    /// Whether it is an embedded std module rather than a file of the bundle (`aarm check`
    /// counts only files as checked).
    pub fn is_std(&self) -> bool {
        matches!(self, ModuleSource::Std(_))
    }
}

/// One loaded file or std module and its syntax tree (empty when the file could not be parsed:
/// too large or not UTF-8, with a diagnostic saying so).
#[derive(Clone, Debug)]
pub struct Module {
    /// Its entry in [`Loaded::sources`]; diagnostics and the IR's locations use this id.
    pub file: FileId,
    /// Where it was loaded from.
    pub source: ModuleSource,
    /// Its parsed syntax tree; shared, as a std module's tree is by every bundle that uses it
    /// (see `stdlib::std_module_ast`).
    pub ast: Arc<ast::File>,
    /// The file's name inside a bundle: its path relative to the bundle's root directory,
    /// `/`-separated (`rules/payments.aarm`, `../common/net.aarm` for a file `use`d from outside
    /// it, `std.net` for a std module). Unlike the path in [`ModuleSource::File`] it does not depend
    /// on the path typed on the command line, so a bundle built from the same sources is the same
    /// bytes, and has the same hash, from any working directory.
    pub(crate) bundle_path: String,
}

/// Everything loaded for one run: the roots' files first (in the order given, directories in
/// sorted order), then the files and std modules reached by `use`, in the order first reached.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The text of every module, for diagnostics to quote and editors to map offsets.
    pub sources: SourceMap,
    /// Every module, in load order (the order described above).
    pub modules: Vec<Module>,
    /// Parse diagnostics of every file and the loader's own (E0022, E0023, E0050-E0052), sorted by
    /// file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Whether loading or parsing reported an error (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The module of a file of [`Loaded::sources`].
    pub fn module(&self, file: FileId) -> Option<&Module> {
        self.modules.iter().find(|m| m.file == file)
    }
}

/// A root that cannot be loaded at all. Problems in files reached by `use` are diagnostics.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The root does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound {
        /// The root as given.
        path: PathBuf,
    },
    /// The root exists but reading it (or walking it) failed.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A directory with no policy in it: checking or testing it would otherwise "pass" having
    /// looked at nothing.
    #[error(
        "{}: no `.aarm` file in this directory or under it, so there is nothing to check\n\
         help: give the directory that holds the policy files, or one `.aarm` file",
        path.display()
    )]
    NoPolicyFiles {
        /// The directory.
        path: PathBuf,
    },
}

impl LoadError {
    /// The root (or the file or directory under it) that could not be loaded, whichever the
    /// variant.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::NotFound { path } | LoadError::Io { path, .. } | LoadError::NoPolicyFiles { path } => path,
        }
    }

    fn from_io(path: &Path, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            LoadError::NotFound { path: path.to_path_buf() }
        } else {
            LoadError::Io { path: path.to_path_buf(), source }
        }
    }
}

/// Loads the files under `roots` (files or directories) and everything they `use`.
pub fn load(roots: &[PathBuf]) -> Result<Loaded, LoadError> {
    load_with_overlay(roots, HashMap::new())
}

/// [`load`], with some files' text given instead of read from disk: an editor's unsaved buffers
/// (`aarm lsp`), keyed by canonical path. A file under a root, or reached by `use`, whose path is a
/// key is loaded from the overlay; every other file as usual.
pub fn load_with_overlay(roots: &[PathBuf], overlay: HashMap<PathBuf, String>) -> Result<Loaded, LoadError> {
    let mut loader = Loader::new(Backend::Disk);
    loader.overlay = overlay;
    if let Some(first) = roots.first() {
        loader.base = Some(bundle_root(first)?);
    }
    for root in roots {
        for path in policy_files(root)? {
            loader.load_root_file(&path)?;
        }
    }
    loader.follow_uses();
    Ok(loader.finish())
}

/// Loads one file whose text was read elsewhere (standard input, an editor's buffer) as if it
/// were the file `name`: diagnostics name it, and its `use ./x` resolve on disk relative to
/// `name`'s directory. `name` need not exist. Never a [`LoadError`]: there is no root to find.
pub fn load_text(name: &Path, bytes: Vec<u8>) -> Loaded {
    let mut loader = Loader::new(Backend::Disk);
    let shown = normalize(name);
    // The key a `use` of this same file would find, so that it is loaded once (and a file that
    // uses itself is a cycle, as on disk).
    let key = match fs::canonicalize(name) {
        Ok(canonical) => canonical,
        Err(_) => std::env::current_dir().map(|cwd| normalize(&cwd.join(name))).unwrap_or_else(|_| shown.clone()),
    };
    // Its bundle path is relative to its own directory, as a file root's would be.
    loader.base = key.parent().map(Path::to_path_buf);
    let text = if bytes.len() > MAX_SOURCE_BYTES { Text::TooLarge } else { decode(bytes) };
    let display = shown.display().to_string();
    loader.add_module(Key::Path(key), ModuleSource::File(shown), display, text);
    loader.follow_uses();
    loader.finish()
}

/// Loads in-memory files given as `(name, text)`, for tests and tools. Names are paths
/// (`"a.aarm"`, `"dir/b.aarm"`); `use ./x` resolves among them, `use std.NAME` as usual. A name
/// given twice is loaded once (the first text wins).
pub fn load_sources(files: Vec<(String, String)>) -> Loaded {
    let mut loader = Loader::new(Backend::Memory);
    for (name, text) in files {
        let path = normalize(Path::new(&name));
        let key = Key::Path(path.clone());
        if loader.index.contains_key(&key) {
            continue;
        }
        let text = if text.len() > MAX_SOURCE_BYTES { Text::TooLarge } else { Text::Valid(text) };
        loader.add_module(key, ModuleSource::File(path), name, text);
    }
    loader.follow_uses();
    loader.finish()
}

// ---------------------------------------------------------------------------------------------
// Roots

/// The directory that bundle paths are relative to: the root itself, or the directory of a root
/// that is a file; canonical, so `examples/x`, `x` (from `examples`) and `.` (from `examples/x`)
/// are one directory.
fn bundle_root(root: &Path) -> Result<PathBuf, LoadError> {
    let canonical = fs::canonicalize(root).map_err(|e| LoadError::from_io(root, e))?;
    if canonical.is_dir() {
        return Ok(canonical);
    }
    Ok(canonical.parent().map_or_else(|| canonical.clone(), Path::to_path_buf))
}

/// `path` relative to `base` (both canonical), `/`-separated, going up with `..` out of the
/// parts of `base` that `path` is not under.
fn relative_to(base: &Path, path: &Path) -> String {
    let base: Vec<Component> = base.components().collect();
    let path: Vec<Component> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n("..".to_string(), base.len().saturating_sub(common));
    let downs = path.iter().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(downs).collect::<Vec<_>>().join("/")
}

/// The files of one root: the root itself, or the `*.aarm` files under it in sorted order (a
/// directory without any is [`LoadError::NoPolicyFiles`]). `aarm fmt` walks with it too, so that
/// every command agrees on which files a directory holds.
pub fn policy_files(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = fs::metadata(root).map_err(|e| LoadError::from_io(root, e))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        let mut seen = HashSet::new();
        walk(root, &mut files, &mut seen)?;
        if files.is_empty() {
            return Err(LoadError::NoPolicyFiles { path: root.to_path_buf() });
        }
    } else {
        files.push(root.to_path_buf());
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<(), LoadError> {
    // Symbolic links to directories are followed, once: a link back up the tree is no loop.
    let canonical = fs::canonicalize(dir).map_err(|e| LoadError::from_io(dir, e))?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    let mut entries: Vec<(OsString, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LoadError::from_io(dir, e))? {
        let entry = entry.map_err(|e| LoadError::from_io(dir, e))?;
        entries.push((entry.file_name(), entry.path()));
    }
    entries.sort();
    for (name, path) in entries {
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let is_aarm = has_aarm_extension(&path);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            // A dangling link that looks like a policy file is worth an error; anything else
            // (editor lock files, broken links to elsewhere) is not ours.
            Err(e) if is_aarm => return Err(LoadError::from_io(&path, e)),
            Err(_) => continue,
        };
        if meta.is_dir() {
            if name != "target" {
                walk(&path, out, seen)?;
            }
        } else if meta.is_file() && is_aarm {
            out.push(path);
        }
    }
    Ok(())
}

fn has_aarm_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "aarm")
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The text of a file, or why it cannot be parsed.
enum Text {
    Valid(String),
    TooLarge,
    /// `lossy` has U+FFFD for each bad sequence; `offset` is the first bad byte (the same offset in
    /// the original bytes and in `lossy`).
    NotUtf8 {
        lossy: String,
        offset: usize,
    },
}

/// Reads at most one byte more than the limit, so a huge file costs no more than that.
fn read_text(path: &Path) -> io::Result<Text> {
    let file = fs::File::open(path)?;
    let limit = u64::try_from(MAX_SOURCE_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Ok(Text::TooLarge);
    }
    Ok(decode(bytes))
}

fn decode(bytes: Vec<u8>) -> Text {
    match String::from_utf8(bytes) {
        Ok(text) => Text::Valid(text),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            Text::NotUtf8 { lossy, offset }
        }
    }
}

/// `.` and `..` folded lexically, the way authors read `use ../x` (a leading `..` is kept).
fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// The loader

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// Canonical path on disk, or the normalized name for [`load_sources`].
    Path(PathBuf),
    Std(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Disk,
    /// Every file is given up front: `use` never loads anything new.
    Memory,
}

/// One `use` that resolved: module `from` uses module `to`, at `span` in `from`'s file.
#[derive(Clone, Copy, Debug)]
struct UseEdge {
    from: usize,
    to: usize,
    span: Span,
}

struct Loader {
    backend: Backend,
    /// The bundle's root directory (canonical), for [`Module::bundle_path`]; `None` in memory.
    base: Option<PathBuf>,
    sources: SourceMap,
    modules: Vec<Module>,
    diagnostics: Vec<Diagnostic>,
    index: HashMap<Key, usize>,
    edges: Vec<UseEdge>,
    /// Texts that replace files on disk (an editor's unsaved buffers), by canonical path.
    overlay: HashMap<PathBuf, String>,
}

const VALID_USE_FORMS: &str =
    "write `use std.NAME` for a standard library module, or `use ./FILE` for a file of this bundle (relative to this file)";

impl Loader {
    fn new(backend: Backend) -> Self {
        Loader {
            backend,
            base: None,
            sources: SourceMap::new(),
            modules: Vec::new(),
            diagnostics: Vec::new(),
            index: HashMap::new(),
            edges: Vec::new(),
            overlay: HashMap::new(),
        }
    }

    fn load_root_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let canonical = fs::canonicalize(path).map_err(|e| LoadError::from_io(path, e))?;
        let overlaid = self.overlaid(&canonical);
        let key = Key::Path(canonical);
        if self.index.contains_key(&key) {
            return Ok(());
        }
        let text = match overlaid {
            Some(text) => text,
            None => read_text(path).map_err(|e| LoadError::from_io(path, e))?,
        };
        let shown = normalize(path);
        let name = shown.display().to_string();
        self.add_module(key, ModuleSource::File(shown), name, text);
        Ok(())
    }

    /// The overlay's text for a file, checked against the size limit as a file on disk is.
    fn overlaid(&self, canonical: &Path) -> Option<Text> {
        let text = self.overlay.get(canonical)?;
        Some(if text.len() > MAX_SOURCE_BYTES { Text::TooLarge } else { Text::Valid(text.clone()) })
    }

    /// Adds a file to the source map, parses it when it can, and returns its module index.
    fn add_module(&mut self, key: Key, source: ModuleSource, name: String, text: Text) -> usize {
        let (file, ast) = match text {
            Text::Valid(text) => {
                let file = self.sources.add(name, text);
                // A std module's tree is parsed once per process (see `std_module_ast`).
                let remembered = match &source {
                    ModuleSource::Std(name) => crate::stdlib::std_module_ast(name),
                    _ => None,
                };
                let ast = match remembered {
                    Some(ast) => ast,
                    None => match self.sources.get(file).map(|f| aarm_lang::parse(file, &f.text)) {
                        Some(parsed) => {
                            self.diagnostics.extend(parsed.diagnostics);
                            Arc::new(parsed.file)
                        }
                        None => Arc::default(),
                    },
                };
                (file, ast)
            }
            Text::TooLarge => {
                let file = self.sources.add(name, String::new());
                let mib = MAX_SOURCE_BYTES / (1024 * 1024);
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::FileTooLarge,
                        file,
                        Span::default(),
                        format!("file is larger than the limit of {mib} MiB and was not read"),
                    )
                    .with_help("split the policy into several files"),
                );
                (file, Arc::default())
            }
            Text::NotUtf8 { lossy, offset } => {
                let end = offset.saturating_add('\u{FFFD}'.len_utf8());
                let file = self.sources.add(name, lossy);
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidUtf8,
                        file,
                        Span::new(to_u32(offset), to_u32(end)),
                        format!("file is not valid UTF-8: invalid byte at offset {offset}"),
                    )
                    .with_label("not UTF-8")
                    .with_help("policy files are UTF-8 text: save the file as UTF-8"),
                );
                (file, Arc::default())
            }
        };
        let bundle_path = match (&key, &self.base) {
            (Key::Path(path), Some(base)) => relative_to(base, path),
            (Key::Path(path), None) => relative_to(Path::new(""), path),
            (Key::Std(name), _) => format!("std.{name}"),
        };
        let index = self.modules.len();
        self.modules.push(Module { file, source, ast, bundle_path });
        self.index.insert(key, index);
        index
    }

    /// Resolves the `use`s of every module, loading what they name, breadth first.
    fn follow_uses(&mut self) {
        let mut next = 0;
        while let Some(module) = self.modules.get(next) {
            let uses: Vec<(UseDecl, Span)> = module
                .ast
                .items
                .iter()
                .filter_map(|item| match &item.kind {
                    ItemKind::Use(u) => Some((u.clone(), item.span)),
                    _ => None,
                })
                .collect();
            let file = module.file;
            let source = module.source.clone();
            for (decl, span) in uses {
                let at = UseSite { module: next, file, source: &source, span };
                match &decl {
                    UseDecl::Relative(path) => self.use_relative(&at, &path.value),
                    UseDecl::Path(words) => self.use_path(&at, words),
                }
            }
            next += 1;
        }
    }

    fn use_path(&mut self, at: &UseSite<'_>, words: &[ast::Ident]) {
        let names: Vec<&str> = words.iter().map(|w| w.name.as_str()).collect();
        let written = names.join(".");
        if let ["std", name] = names.as_slice() {
            match std_module(name) {
                Some(text) => {
                    let key = Key::Std((*name).to_string());
                    let to = match self.index.get(&key) {
                        Some(&to) => to,
                        None => self.add_module(
                            key,
                            ModuleSource::Std((*name).to_string()),
                            format!("std.{name}"),
                            Text::Valid(text.to_string()),
                        ),
                    };
                    self.edges.push(UseEdge { from: at.module, to, span: at.span });
                }
                None => {
                    let help = match did_you_mean(name, STD_MODULES.iter().copied()) {
                        Some(s) => format!("did you mean `std.{s}`?"),
                        None => format!("the standard library has {}", std_list()),
                    };
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::ModuleNotFound,
                            at.file,
                            at.span,
                            format!("there is no standard library module `std.{name}`"),
                        )
                        .with_label("unknown module")
                        .with_help(help),
                    );
                }
            }
            return;
        }
        let message = match names.as_slice() {
            ["std"] => "`use std` names no module: the standard library is used one module at a time".to_string(),
            ["std", ..] => format!("`{written}` is not a module path: standard library modules are not nested"),
            _ => format!("`{written}` is not a module path"),
        };
        let help = match names.as_slice() {
            [name] if STD_MODULES.contains(name) => format!("did you mean `use std.{name}`?"),
            [name] if self.relative_exists(at, name) => format!("did you mean `use ./{name}`?"),
            ["std", ..] => format!("{VALID_USE_FORMS}; the standard library has {}", std_list()),
            _ => VALID_USE_FORMS.to_string(),
        };
        self.diagnostics.push(
            Diagnostic::new(Code::InvalidUse, at.file, at.span, message)
                .with_label("not a module path")
                .with_help(help),
        );
    }

    /// Whether `use ./name` would find a file (for the help of `use name`).
    fn relative_exists(&self, at: &UseSite<'_>, name: &str) -> bool {
        let ModuleSource::File(base) = at.source else { return false };
        let target = relative_target(base, &format!("./{name}"));
        match self.backend {
            Backend::Memory => self.index.contains_key(&Key::Path(target)),
            Backend::Disk => target.is_file(),
        }
    }

    fn use_relative(&mut self, at: &UseSite<'_>, rel: &str) {
        let base = match at.source {
            ModuleSource::File(base) => base,
            ModuleSource::Std(_) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidUse,
                        at.file,
                        at.span,
                        format!("a standard library module cannot use a file (`{rel}`)"),
                    )
                    .with_help("standard library modules only use other `std.` modules"),
                );
                return;
            }
        };
        if rel.ends_with('/') {
            self.diagnostics.push(
                Diagnostic::new(Code::InvalidUse, at.file, at.span, format!("`{rel}` names a directory, not a file"))
                    .with_label("not a file")
                    .with_help("`use` takes one file: write `use ./DIR/FILE`"),
            );
            return;
        }
        let target = relative_target(base, rel);
        let found = match self.backend {
            Backend::Memory => match self.index.get(&Key::Path(target.clone())) {
                Some(&to) => Ok(to),
                None => Err(None),
            },
            Backend::Disk => self.load_used_file(&target),
        };
        match found {
            Ok(to) => self.edges.push(UseEdge { from: at.module, to, span: at.span }),
            Err(None) => {
                let help = match self.suggest_sibling(&target) {
                    Some(stem) => {
                        let prefix = rel.rsplit_once('/').map(|(p, _)| p).unwrap_or(".");
                        format!("did you mean `use {prefix}/{stem}`?")
                    }
                    None => {
                        "the path is relative to the directory of the file that uses it; `.aarm` is added when missing"
                            .to_string()
                    }
                };
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::ModuleNotFound,
                        at.file,
                        at.span,
                        format!("cannot find module `{rel}`: there is no file `{}`", target.display()),
                    )
                    .with_label("no such file")
                    .with_help(help),
                );
            }
            Err(Some(problem)) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::ModuleNotFound,
                        at.file,
                        at.span,
                        format!("cannot load module `{rel}` (`{}`): {problem}", target.display()),
                    )
                    .with_label("cannot be loaded"),
                );
            }
        }
    }

    /// The module index of a file named by `use`, loading it when new. `Err(None)` when there is
    /// no such file, `Err(Some(why))` when it exists but cannot be read.
    fn load_used_file(&mut self, target: &Path) -> Result<usize, Option<String>> {
        let canonical = match fs::canonicalize(target) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(None),
            Err(e) => return Err(Some(e.to_string())),
        };
        let overlaid = self.overlaid(&canonical);
        let key = Key::Path(canonical);
        if let Some(&to) = self.index.get(&key) {
            return Ok(to);
        }
        if fs::metadata(target).is_ok_and(|m| m.is_dir()) {
            return Err(Some("it is a directory".to_string()));
        }
        let text = match overlaid {
            Some(text) => text,
            None => read_text(target).map_err(|e| Some(e.to_string()))?,
        };
        let name = target.display().to_string();
        Ok(self.add_module(key, ModuleSource::File(target.to_path_buf()), name, text))
    }

    /// A file next to `target` whose name is close to its name, as `use` would write it.
    fn suggest_sibling(&self, target: &Path) -> Option<String> {
        let parent = target.parent().unwrap_or(Path::new(""));
        let wanted = target.file_stem()?.to_str()?;
        let candidates: Vec<String> = match self.backend {
            Backend::Memory => self
                .modules
                .iter()
                .filter_map(|m| match &m.source {
                    ModuleSource::File(p) if p.parent().unwrap_or(Path::new("")) == parent => {
                        p.file_stem().and_then(|s| s.to_str()).map(str::to_string)
                    }
                    _ => None,
                })
                .collect(),
            Backend::Disk => {
                let dir = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
                let mut names: Vec<String> = fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| has_aarm_extension(p))
                    .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                    .collect();
                names.sort();
                names
            }
        };
        did_you_mean(wanted, candidates.iter().map(String::as_str)).map(str::to_string)
    }

    // -----------------------------------------------------------------------------------------
    // Cycles

    fn report_cycles(&mut self) {
        let mut graph: DiGraph<usize, usize> = DiGraph::with_capacity(self.modules.len(), self.edges.len());
        for i in 0..self.modules.len() {
            graph.add_node(i);
        }
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); self.modules.len()];
        for (i, e) in self.edges.iter().enumerate() {
            graph.add_edge(NodeIndex::new(e.from), NodeIndex::new(e.to), i);
            if let Some(list) = out.get_mut(e.from) {
                list.push(i);
            }
        }

        // A file that uses itself: once per file, at its first such `use`.
        let mut reported = HashSet::new();
        let self_uses: Vec<UseEdge> = self.edges.iter().filter(|e| e.from == e.to).copied().collect();
        for e in self_uses {
            if reported.insert(e.from) {
                let name = self.module_name(e.from);
                if let Some(file) = self.modules.get(e.from).map(|m| m.file) {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::ModuleCycle,
                            file,
                            e.span,
                            format!("module `{name}` uses itself: {name} → {name}"),
                        )
                        .with_label("this `use` names the file it is in")
                        .with_help("remove this `use`: the declarations of a file are always visible in it"),
                    );
                }
            }
        }

        let mut components: Vec<Vec<usize>> = petgraph::algo::tarjan_scc(&graph)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut members: Vec<usize> = c.iter().filter_map(|n| graph.node_weight(*n).copied()).collect();
                members.sort_unstable();
                members
            })
            .collect();
        components.sort();
        for members in components {
            if let Some(cycle) = self.shortest_cycle(&members, &out) {
                self.report_cycle(&cycle);
            }
        }
    }

    /// The shortest cycle through the first-loaded member of a strongly connected component, as
    /// the edges in order; the last one closes it. Ties go to the `use` written first.
    fn shortest_cycle(&self, members: &[usize], out: &[Vec<usize>]) -> Option<Vec<UseEdge>> {
        let start = *members.first()?;
        let inside: HashSet<usize> = members.iter().copied().collect();
        let mut reached_by: HashMap<usize, UseEdge> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(node) = queue.pop_front() {
            for e in out.get(node).into_iter().flatten().filter_map(|&i| self.edges.get(i)) {
                if e.from == e.to || !inside.contains(&e.to) {
                    continue;
                }
                if e.to == start {
                    closing = Some(*e);
                    break 'search;
                }
                if let std::collections::hash_map::Entry::Vacant(slot) = reached_by.entry(e.to) {
                    slot.insert(*e);
                    queue.push_back(e.to);
                }
            }
        }
        let closing = closing?;
        let mut cycle = vec![closing];
        let mut node = closing.from;
        while node != start {
            let e = *reached_by.get(&node)?;
            cycle.push(e);
            node = e.from;
            if cycle.len() > members.len() {
                return None;
            }
        }
        cycle.reverse();
        Some(cycle)
    }

    fn report_cycle(&mut self, cycle: &[UseEdge]) {
        let (Some(first), Some(closing)) = (cycle.first(), cycle.last()) else { return };
        let mut chain = vec![self.module_name(first.from)];
        chain.extend(cycle.iter().map(|e| self.module_name(e.to)));
        let chain = chain.join(" → ");
        let Some(file) = self.modules.get(closing.from).map(|m| m.file) else { return };
        let mut d = Diagnostic::new(
            Code::ModuleCycle,
            file,
            closing.span,
            format!("modules use each other in a cycle: {chain}"),
        )
        .with_label("this `use` closes the cycle")
        .with_help(
            "move the declarations these files share into a third file, and `use` that file from each of them instead of each other",
        );
        for e in cycle.iter().take(cycle.len().saturating_sub(1)) {
            if let Some(m) = self.modules.get(e.from) {
                let message = format!("`{}` uses `{}` here", self.module_name(e.from), self.module_name(e.to));
                d = d.with_secondary(m.file, e.span, message);
            }
        }
        self.diagnostics.push(d);
    }

    fn module_name(&self, module: usize) -> String {
        self.modules
            .get(module)
            .map(|m| self.sources.name(m.file).to_string())
            .unwrap_or_else(|| "<unknown>".to_string())
    }

    fn finish(mut self) -> Loaded {
        self.report_cycles();
        let mut diagnostics = Diagnostics::new();
        diagnostics.extend(self.diagnostics);
        diagnostics.sort();
        Loaded { sources: self.sources, modules: self.modules, diagnostics: diagnostics.into_vec() }
    }
}

/// Where a `use` is written.
struct UseSite<'a> {
    module: usize,
    file: FileId,
    source: &'a ModuleSource,
    span: Span,
}

/// The file `use REL` names from the file at `base`: relative to its directory, `.aarm` appended
/// when missing, `.`/`..` folded.
fn relative_target(base: &Path, rel: &str) -> PathBuf {
    let dir = base.parent().unwrap_or(Path::new(""));
    let mut target = dir.join(rel).into_os_string();
    if !rel.ends_with(".aarm") {
        target.push(".aarm");
    }
    normalize(Path::new(&target))
}

fn std_list() -> String {
    STD_MODULES.iter().map(|m| format!("`std.{m}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots_and_keeps_leading_parents() {
        assert_eq!(normalize(Path::new("./a/b/../c.aarm")), PathBuf::from("a/c.aarm"));
        assert_eq!(normalize(Path::new("../x.aarm")), PathBuf::from("../x.aarm"));
        assert_eq!(normalize(Path::new("a/../../x")), PathBuf::from("../x"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalize(Path::new(".")), PathBuf::from("."));
    }

    #[test]
    fn relative_targets() {
        assert_eq!(relative_target(Path::new("ex/p/a.aarm"), "./common"), PathBuf::from("ex/p/common.aarm"));
        assert_eq!(relative_target(Path::new("ex/p/a.aarm"), "../lib/x.aarm"), PathBuf::from("ex/lib/x.aarm"));
        assert_eq!(relative_target(Path::new("a.aarm"), "./b.v2"), PathBuf::from("b.v2.aarm"));
        assert_eq!(relative_target(Path::new("a.aarm"), "../b"), PathBuf::from("../b.aarm"));
    }

    #[test]
    fn invalid_utf8_points_at_the_first_bad_byte() {
        match decode(b"ok \xff\xfe rest".to_vec()) {
            Text::NotUtf8 { lossy, offset } => {
                assert_eq!(offset, 3);
                assert!(lossy.starts_with("ok \u{FFFD}"));
            }
            _ => panic!("expected invalid UTF-8"),
        }
        assert!(matches!(decode(b"a\0b".to_vec()), Text::Valid(_)));
    }
}
