//! A full disk and a read-only data directory under a running server, over real HTTP: the
//! data directory is on a filesystem of the test's own (a small tmpfs, which needs root; the
//! test says SKIPPED without it). Filled up, an ingest gets a clear 507 naming the cause and
//! changes nothing, and searches go on with the same results; once the fault is gone the same
//! ingest goes through. Mounted read-only, the data directory is refused as clearly when it is
//! opened, and left as it was; and it reopens whole.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use zhiku_engine::{Classification, Engine, NewKey};

use common::{client, config, doc_ids, start, write_corpus};

/// A tmpfs mounted for the test; unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path, size_mb: u64) -> Result<Self, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Self(at.to_path_buf()))
    }

    fn remount(&self, how: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{how}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// Bytes free, as a non-root writer sees them.
    fn available(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

async fn ingest(url: &str, admin: &str, path: &Path) -> (u16, Value) {
    let r = client()
        .post(format!("{url}/admin/ingest"))
        .bearer_auth(admin)
        .json(&json!({"paths": [path]}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn search(url: &str, query: &str) -> Vec<String> {
    let r = client()
        .post(format!("{url}/v1/search"))
        .json(&json!({"query": query, "k": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "searches go on");
    doc_ids(&r.json().await.unwrap())
}

/// Everything under `dir`, path and bytes, to show it unchanged; but SQLite's `-shm` file,
/// the shared-memory index of its write-ahead log that every reader updates (no data).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().ends_with("-shm") {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_or_a_read_only_data_directory_refuses_writes_clearly_and_reads_go_on() {
    let root = tempfile::tempdir().unwrap();
    let mount = match Mount::new(&root.path().join("disk"), 256) {
        Ok(m) => m,
        Err(why) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: a_full_disk_or_a_read_only_data_directory_refuses_writes_clearly_and_reads_go_on \
                 (cannot mount a tmpfs here, which needs root: {why})"
            );
            return;
        }
    };
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let later = root.path().join("later");
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(
        later.join("bell.md"),
        "---\nid: disk-bell\ntitle: 钟楼\n---\n钟楼的大钟重六十三吨，代号 ZK-BELL-8。\n",
    )
    .unwrap();
    let mut cfg = config(root.path());
    cfg.data_dir = mount.0.join("data");
    let data_dir = cfg.data_dir.clone();
    let running = start(cfg.clone(), Some(&corpus)).await;
    let (_, admin) = running
        .engine
        .store()
        .create_key(&NewKey {
            name: "ops".into(),
            channel: zhiku_core::Channel::Api,
            clearance: zhiku_core::Classification::Restricted,
            admin: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let url = running.url.clone();
    let before = search(&url, "metformin starting dose").await;
    assert!(!before.is_empty());

    // Full: all but a few MB taken by another file.
    let filler = mount.0.join("filler");
    let keep = 8 * 1024 * 1024;
    let fill = mount.available().saturating_sub(keep);
    std::fs::write(&filler, vec![0u8; usize::try_from(fill).unwrap()]).unwrap();
    let untouched = snapshot(&data_dir);
    let ingest_records = || async {
        running
            .engine
            .store()
            .audit_rows(0, i64::MAX)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.record.contains("\"ingest\""))
            .count()
    };
    let ingests_before = ingest_records().await;
    let (status, body) = ingest(&url, &admin, &later).await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "disk_full", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("full") && m.contains("nothing was changed")),
        "{body}"
    );
    // An upload too: refused before it is written.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"# Bell\n\nThe bell weighs 63 tonnes.\n".to_vec())
            .file_name("bell-upload.md"),
    );
    let r = client()
        .post(format!("{url}/admin/ingest"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (507, Some("disk_full")),
        "{body}"
    );
    assert_eq!(search(&url, "metformin starting dose").await, before);
    assert!(search(&url, "大钟 ZK-BELL-8")
        .await
        .iter()
        .all(|d| d != "disk-bell"));
    // The database takes the audit records of the medicine searches made meanwhile (every
    // medicine reading is recorded); the refused ingests recorded nothing, and wrote nothing
    // anywhere else.
    let changed: Vec<_> = snapshot(&data_dir)
        .into_iter()
        .filter(|f| !untouched.contains(f))
        .map(|f| f.0)
        .filter(|p| !p.to_string_lossy().contains("zhiku.db"))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
    assert_eq!(
        ingest_records().await,
        ingests_before,
        "a refused ingest is not started"
    );

    // The fault gone: the same ingest goes through.
    std::fs::remove_file(&filler).unwrap();
    mount.remount("rw");
    let (status, body) = ingest(&url, &admin, &later).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"], 1, "{body}");
    assert_eq!(
        search(&url, "大钟 ZK-BELL-8")
            .await
            .first()
            .map(String::as_str),
        Some("disk-bell")
    );
    assert_eq!(search(&url, "metformin starting dose").await, before);
    let documents = running.engine.stats().await.unwrap().documents;
    running.stop().await;

    // Read-only (as a volume mounted so, which Linux allows only with no file open for
    // writing, so with the server stopped): opening refuses clearly and changes nothing.
    mount.remount("ro");
    let untouched = snapshot(&data_dir);
    let refused = Engine::open(cfg.clone()).await.err().expect("refused");
    assert_eq!(refused.code(), "read_only", "{refused}");
    let said = refused.to_string();
    assert!(
        said.contains("read-only") && said.contains("nothing was changed"),
        "{said}"
    );
    assert!(snapshot(&data_dir) == untouched);
    mount.remount("rw");

    // And the data directory reopens whole.
    let reopened = Engine::open(cfg).await.unwrap();
    let stats = reopened.stats().await.unwrap();
    assert_eq!(stats.documents, documents);
    let hits = reopened
        .search(
            &zhiku_engine::Caller::operator(Classification::Public),
            "大钟 ZK-BELL-8",
            &Default::default(),
            1,
            zhiku_engine::RetrievalMode::Hybrid,
        )
        .await
        .unwrap();
    assert_eq!(hits.hits[0].chunk.doc_id, "disk-bell");
    drop(reopened);
    drop(mount);
}
