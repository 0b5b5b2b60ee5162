//! Parses files and prints their diagnostics: `cargo run -p aarm-lang --example parse -- FILE...`
fn main() {
    let mut sources = aarm_lang::SourceMap::new();
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let id = sources.add(path.clone(), text.clone());
        let parsed = aarm_lang::parse(id, &text);
        println!("{path}: {} items, {} diagnostics", parsed.file.items.len(), parsed.diagnostics.len());
        for d in &parsed.diagnostics {
            print!("{}", aarm_lang::render::to_human(d, &sources, false));
        }
    }
}
