//! Every registered domain keeps the loaders' promises (`zhiku_loaders::loaded_file_faults`)
//! on every file of the repository it accepts: the sample corpora, the test fixtures (the
//! broken and damaged ones among them), and `tests/fixtures/fuzz/`, where each input a fuzz
//! target (`fuzz/`) crashed on is kept as a regression test.

use std::path::{Path, PathBuf};

use zhiku_core::LoadDefaults;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_domain_keeps_the_loaders_promises_on_every_file_it_accepts() {
    let root = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../..");
    let mut all = Vec::new();
    for dir in ["corpora", "tests/fixtures"] {
        files(&root.join(dir), &mut all);
    }
    let registry = zhiku_engine::registry();
    let mut loads = 0;
    let mut regressions = 0;
    let mut broken = Vec::new();
    for path in &all {
        let display = path.strip_prefix(&root).unwrap().display().to_string();
        let bytes = std::fs::read(path).unwrap();
        for domain in registry.iter().filter(|d| d.accepts(path)) {
            let loaded = domain.load(path, &display, &LoadDefaults::default());
            loads += 1;
            regressions += usize::from(display.starts_with("tests/fixtures/fuzz/"));
            let faults = zhiku_loaders::loaded_file_faults(&bytes, &display, &loaded);
            if !faults.is_empty() {
                broken.push(format!("{} on {display}: {faults:#?}", domain.name()));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // The walk really loaded the corpora (four domains, Markdown, records, DOCX and PDF).
    assert!(loads > 200, "only {loads} loads");
    eprintln!("{loads} loads kept every promise, {regressions} of them of fuzz regressions");
}
