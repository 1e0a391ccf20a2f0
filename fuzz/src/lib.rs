//! What the loader targets share: the fuzzer's bytes become the file a loader reads, as
//! ingest would hand it over, and whatever comes back must keep the loaders' promises
//! (`zhiku_loaders::loaded_file_faults`). A broken promise or a panic is a crash.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use zhiku_core::{Domain, LoadDefaults, LoadedFile};

/// A loader under test: a name for messages and how it reads a file.
pub type Loader<'a> = (&'a str, &'a dyn Fn(&Path, &str) -> LoadedFile);

/// This process's scratch folder (under `TMPDIR`; the script points it at a RAM disk).
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zhiku-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder for the fuzzed files");
        dir
    })
}

/// Writes `bytes` as `<folder>/input.<extension>` and runs every loader on it.
pub fn load_with(folder: &str, extension: &str, bytes: &[u8], loaders: &[Loader<'_>]) {
    let dir = scratch().join(folder);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(format!("input.{extension}"));
    std::fs::write(&path, bytes).expect("scratch file");
    let display = format!("{folder}/input.{extension}");
    for (name, load) in loaders {
        let loaded = load(&path, &display);
        let faults = zhiku_loaders::loaded_file_faults(bytes, &display, &loaded);
        assert!(faults.is_empty(), "{name} on {display}: {faults:#?}");
    }
}

/// A domain's own loader, under the folder defaults ingest would use when none are set.
pub fn domain<D: Domain>(d: &D) -> impl Fn(&Path, &str) -> LoadedFile + '_ {
    move |path, display| d.load(path, display, &LoadDefaults::default())
}

/// A generic loader of `zhiku-loaders`, as the general domain calls it.
pub fn generic(
    load: fn(&Path, &str, &str, &LoadDefaults) -> LoadedFile,
) -> impl Fn(&Path, &str) -> LoadedFile {
    move |path, display| load(path, display, "general", &LoadDefaults::default())
}
