//! The `zhiku` binary as a user runs it: real model, real indexes, real processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/fixtures")
}

fn zhiku(data: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zhiku"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env("ZHIKU_LOG", "warn");
    cmd
}

fn run(data: &Path, args: &[&str]) -> Output {
    zhiku(data, args).output().expect("zhiku runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stats(data: &Path) -> serde_json::Value {
    let out = run(data, &["stats", "--ids"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A corpus of `n` small, distinct documents.
fn write_corpus(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let topics = [
        "长城",
        "photosynthesis",
        "天坛",
        "prime numbers",
        "运河",
        "hypertension",
    ];
    for i in 0..n {
        let t = topics[i % topics.len()];
        let body = format!(
            "---\ntitle: Note {i} on {t}\n---\n# Note {i}: {t}\n\nThis is note number {i}. It records observation {i} about {t}, \
             written for the kill test. 第{i}条笔记记录了关于{t}的第{i}个观察。\n\nA second paragraph gives detail {} so that \
             every note differs from every other one.\n",
            i * 7 + 3
        );
        std::fs::write(dir.join(format!("note-{i:03}.md")), body).unwrap();
    }
}

/// How a killed ingest is stopped.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// SIGKILL this long after the start.
    After(Duration),
    /// SIGKILL just after the first batch reached the manifest.
    AfterFirstCommit,
    /// Abort at the named failpoint (`ZHIKU_FAILPOINT`), exactly inside a window.
    At(&'static str),
}

/// Runs `zhiku ingest ARGS` and stops it as `kill` says; returns whether it was stopped
/// before finishing by itself.
fn killed_ingest(data: &Path, args: &[&str], kill: Kill) -> bool {
    let mut cmd = zhiku(data, args);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    if let Kill::At(point) = kill {
        cmd.env("ZHIKU_FAILPOINT", point);
    }
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    match kill {
        Kill::At(_) => {}
        Kill::After(wait) => std::thread::sleep(wait),
        Kill::AfterFirstCommit => {
            while !data.join("manifest.json").exists() {
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "ingest never committed"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    if !matches!(kill, Kill::At(_)) {
        let _ = child.kill(); // SIGKILL; a no-op if it has finished
    }
    let status = child.wait().unwrap();
    !status.success()
}

/// The state a completed ingest must leave: the chunk ids and agreeing counts.
fn assert_same_as_clean(data: &Path, clean: &serde_json::Value, what: &str) {
    let after = stats(data);
    assert_eq!(after["chunk_ids"], clean["chunk_ids"], "{what}");
    for key in ["chunks", "keyword_chunks", "vector_points"] {
        assert_eq!(after[key], clean["chunks"], "{what}: {key}: {after}");
    }
    assert_eq!(after["interrupted_documents"], 0, "{what}: {after}");
    assert_eq!(after["optimize_pending"], false, "{what}: {after}");
}

/// Small commits, so that kills land between (and inside) commits.
fn small_commits(work: &Path) -> String {
    let config = work.join("zhiku.toml");
    std::fs::write(&config, "[ingest]\ncommit_every_chunks = 4\n").unwrap();
    config.to_string_lossy().into_owned()
}

#[test]
fn kills_at_random_points_and_inside_every_window_then_a_rerun_equals_a_clean_ingest() {
    let work = tempfile::tempdir().unwrap();
    let corpus = work.path().join("notes");
    write_corpus(&corpus, 24);
    let cfg = small_commits(work.path());
    let corpus_arg = corpus.to_str().unwrap();
    let args = ["--config", cfg.as_str(), "ingest", corpus_arg];

    let clean = work.path().join("clean");
    let started = Instant::now();
    let out = run(&clean, &args);
    let clean_ms = started.elapsed().as_millis() as u64;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = stats(&clean);
    assert!(expected["chunks"].as_u64().unwrap() >= 24);

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64)
        | 1;
    println!("random kill seed {seed}");
    let mut kills = vec![
        Kill::At("write:before-commit"),
        Kill::At("write:after-commit"),
        Kill::At("optimize"),
        Kill::AfterFirstCommit,
    ];
    while kills.len() < 10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        kills.push(Kill::After(Duration::from_millis(seed % clean_ms.max(1))));
    }
    for (i, kill) in kills.into_iter().enumerate() {
        let data = work.path().join(format!("killed-{i}"));
        let stopped = killed_ingest(&data, &args, kill);
        if let Kill::At(point) = kill {
            assert!(stopped, "the failpoint {point} stopped the run");
            let partial = stats(&data);
            if point == "optimize" {
                assert_eq!(partial["optimize_pending"], true, "{partial}");
            } else {
                assert!(
                    partial["interrupted_documents"].as_u64() > Some(0),
                    "{point}: {partial}"
                );
            }
        }
        let out = run(&data, &args);
        assert!(out.status.success(), "{kill:?}: {}", text(&out.stderr));
        assert_same_as_clean(&data, &expected, &format!("kill {i}: {kill:?}"));
    }

    // And an unchanged corpus embeds nothing.
    let out = run(&clean, &args);
    assert!(
        text(&out.stdout).contains("0 embeddings computed"),
        "{}",
        text(&out.stdout)
    );
}

/// Eight notes ingested with small commits into `work/data`: the corpus folder, the
/// configuration file, and the stats of that clean ingest.
fn eight_notes_ingested(work: &Path) -> (PathBuf, String, serde_json::Value) {
    let corpus = work.join("notes");
    write_corpus(&corpus, 8);
    let cfg = small_commits(work);
    let data = work.join("data");
    let out = run(
        &data,
        &["--config", &cfg, "ingest", corpus.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    (corpus, cfg, stats(&data))
}

#[test]
fn a_kill_in_the_commit_window_then_a_reverted_file_leaves_no_stale_chunks() {
    let work = tempfile::tempdir().unwrap();
    let (corpus, cfg, expected) = eight_notes_ingested(work.path());
    let args = ["--config", cfg.as_str(), "ingest", corpus.to_str().unwrap()];
    let data = work.path().join("data");

    // A file changes; the run dies after both indexes committed it, before the manifest did.
    let file = corpus.join("note-003.md");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        original.replace("observation 3", "a revised observation"),
    )
    .unwrap();
    assert!(killed_ingest(&data, &args, Kill::At("write:after-commit")));
    // The user reverts the file: its hash is the manifest's again.
    std::fs::write(&file, &original).unwrap();
    let out = run(&data, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("settled"),
        "{}",
        text(&out.stderr)
    );
    assert_same_as_clean(&data, &expected, "after the revert");
    let out = run(
        &data,
        &[
            "search",
            "a revised observation",
            "--mode",
            "bm25",
            "--json",
        ],
    );
    assert!(
        !text(&out.stdout).contains("a revised observation"),
        "no chunk holds text that no file has: {}",
        text(&out.stdout)
    );
}

#[test]
fn a_kill_while_pruning_then_a_restored_file_is_indexed_again() {
    let work = tempfile::tempdir().unwrap();
    let (corpus, cfg, expected) = eight_notes_ingested(work.path());
    let corpus_arg = corpus.to_str().unwrap();
    let args = ["--config", cfg.as_str(), "ingest", corpus_arg];
    let data = work.path().join("data");

    let file = corpus.join("note-005.md");
    let original = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let prune = ["--config", cfg.as_str(), "ingest", "--prune", corpus_arg];
    assert!(killed_ingest(&data, &prune, Kill::At("prune:after-commit")));
    std::fs::write(&file, original).unwrap();
    let out = run(&data, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_as_clean(&data, &expected, "after the restore");
}

#[test]
fn strict_makes_problems_fatal_and_names_file_and_line() {
    let work = tempfile::tempdir().unwrap();
    let broken = fixtures().join("broken");
    let out = run(work.path(), &["ingest", broken.to_str().unwrap()]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("records.jsonl:2: malformed JSON"), "{err}");
    assert!(err.contains("latin1.md:4: not valid UTF-8"), "{err}");
    let out = run(
        work.path(),
        &["ingest", "--strict", broken.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn search_prints_provenance_and_rejects_bad_queries() {
    let work = tempfile::tempdir().unwrap();
    let mini = fixtures().join("mini");
    assert!(run(work.path(), &["ingest", mini.to_str().unwrap()])
        .status
        .success());

    let out = run(
        work.path(),
        &["search", "故宫始建于哪一年", "--json", "-k", "2"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = &hits[0];
    assert_eq!(top["chunk"]["doc_id"], "mini-forbidden-city");
    assert!(top["chunk"]["source"]["path"]
        .as_str()
        .unwrap()
        .ends_with("forbidden-city.md"));
    assert!(top["chunk"]["end"].as_u64() > top["chunk"]["start"].as_u64());
    assert!(top["bm25"]["rank"].is_u64() || top["dense"]["rank"].is_u64());

    let out = run(
        work.path(),
        &[
            "search",
            "photosynthesis",
            "--mode",
            "bm25",
            "-f",
            "grade_band=junior",
        ],
    );
    assert!(
        text(&out.stdout).contains("Photosynthesis handout"),
        "{}",
        text(&out.stdout)
    );

    let out = run(work.path(), &["search", "   "]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("query is empty"),
        "{}",
        text(&out.stderr)
    );
    let long = "长".repeat(5000);
    let out = run(work.path(), &["search", &long]);
    assert!(
        text(&out.stderr).contains("limit is 2000"),
        "{}",
        text(&out.stderr)
    );
    let out = run(work.path(), &["search", "x", "--domain", "astrology"]);
    assert!(
        text(&out.stderr).contains("unknown domain"),
        "{}",
        text(&out.stderr)
    );
    let out = run(work.path(), &["search", "x", "-f", "nonsense"]);
    assert!(
        text(&out.stderr).contains("key=value"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn incompatible_or_foreign_data_directories_are_refused_clearly() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("zhiku-data.json"),
        r#"{"format": 999, "embedding_model": "other", "dimension": 768}"#,
    )
    .unwrap();
    let out = run(work.path(), &["search", "故宫"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot be used by this version") && err.contains("format 999"),
        "{err}"
    );

    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(foreign.path().join("thesis.docx"), "not ours").unwrap();
    let out = run(foreign.path(), &["search", "故宫"]);
    assert!(
        text(&out.stderr).contains("not empty"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn eval_prints_the_agreed_json_keys() {
    let work = tempfile::tempdir().unwrap();
    let dir = fixtures().join("beir-mini");
    let out = run(work.path(), &["eval", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["corpus"], 5);
    assert_eq!(v["queries"], 5);
    for mode in ["bm25", "dense", "hybrid"] {
        let m = &v["modes"][mode];
        for key in [
            "recall@1",
            "recall@5",
            "recall@10",
            "hit@10",
            "ndcg@10",
            "mrr@10",
            "answer_hit@5",
            "latency_ms_p50",
            "latency_ms_p99",
        ] {
            assert!(m[key].is_number(), "{mode} {key}: {m}");
        }
        // q5 has two relevant passages: recall@1 can be at most 0.5 for it.
        assert!(m["recall@1"].as_f64().unwrap() <= 0.9 + 1e-9, "{m}");
        assert!(m["hit@10"].as_f64().unwrap() >= 0.8, "{mode}: {m}");
    }
    let e = &v["extractive"];
    assert_eq!(e["queries"], 4, "queries with gold answers: {e}");
    assert!(e["answer_hit"].as_f64().unwrap() >= 0.5, "{e}");
    // The second run reuses the cached scratch index: nothing is embedded again.
    let out = run(work.path(), &["eval", dir.to_str().unwrap(), "--json"]);
    assert!(
        text(&out.stderr).contains("(0 newly embedded chunks)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn eval_runs_a_set_as_its_domain_with_the_domains_retrieval_settings() {
    let work = tempfile::tempdir().unwrap();
    // The same mini set, in a folder named like a domain.
    let set = work.path().join("sets/medicine");
    std::fs::create_dir_all(&set).unwrap();
    for f in ["corpus.jsonl", "queries.jsonl", "qrels.tsv"] {
        std::fs::copy(fixtures().join("beir-mini").join(f), set.join(f)).unwrap();
    }
    let data = work.path().join("data");
    let out = run(&data, &["eval", set.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["domain"], "medicine", "{v}");
    assert_eq!(v["dense_weight"], 1.5, "medicine's own weight: {v}");
    assert!(v["modes"]["hybrid-base"]["ndcg@10"].is_number(), "{v}");
    // The fusion sweep and the per-source figures come with every set.
    assert_eq!(v["fusion_sweep"].as_array().map(Vec::len), Some(9), "{v}");
    assert!(v["by_source"].is_object(), "{v}");

    let out = run(
        &data,
        &[
            "eval",
            set.to_str().unwrap(),
            "--json",
            "--domain",
            "general",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["domain"], "general");
    assert!(v["modes"].get("hybrid-base").is_none(), "{v}");

    let out = run(&data, &["eval", set.to_str().unwrap(), "--domain", "law"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("law"), "{}", text(&out.stderr));
}

#[test]
fn bench_on_a_corpus_with_nothing_to_chunk_says_so() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("README.md"), "# skipped: describes the corpus\n").unwrap();
    let out = run(
        &work.path().join("data"),
        &[
            "bench",
            "--corpus",
            empty.to_str().unwrap(),
            "--sizes",
            "10",
            "--queries",
            "5",
        ],
    );
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nothing to benchmark"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn ask_answers_extractively_with_checked_citations() {
    let work = tempfile::tempdir().unwrap();
    let mini = fixtures().join("mini");
    assert!(run(work.path(), &["ingest", mini.to_str().unwrap()])
        .status
        .success());
    let out = run(work.path(), &["ask", "故宫始建于哪一年？"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("抽取式回答"), "{stdout}");
    assert!(
        stdout.contains("1406") && stdout.contains("[1]"),
        "{stdout}"
    );
    assert!(stdout.contains("forbidden-city.md (file bytes"), "{stdout}");

    let out = run(
        work.path(),
        &["ask", "What limits the rate of photosynthesis?", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "extractive");
    assert_eq!(v["citations"][0]["doc_id"], "mini-photosynthesis");
    assert!(
        v["text"].as_str().unwrap().contains("light intensity"),
        "{v}"
    );
    let out = run(work.path(), &["ask", ""]);
    assert!(text(&out.stderr).contains("query is empty"));
}

/// `zhiku chat`: questions on standard input, follow-ups searched with the earlier question.
#[test]
fn chat_keeps_the_conversation_and_survives_a_bad_line() {
    use std::io::Write;
    let work = tempfile::tempdir().unwrap();
    let mini = fixtures().join("mini");
    assert!(run(work.path(), &["ingest", mini.to_str().unwrap()])
        .status
        .success());
    let mut child = zhiku(work.path(), &["chat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let long = "问".repeat(3000);
    let input = format!("故宫始建于哪一年？\n{long}\n它是谁下令修建的？\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1406"), "{stdout}");
    assert!(
        stdout.contains("(query: 故宫是谁下令修建的？)"),
        "the follow-up is searched with its referent put in: {stdout}"
    );
    assert!(
        text(&out.stderr).contains("3000 characters long"),
        "{}",
        text(&out.stderr)
    );
}

/// `zhiku ask` with a model configured through the environment, against a real local server
/// speaking the OpenAI protocol; then the same model failing.
#[tokio::test(flavor = "multi_thread")]
async fn ask_streams_a_model_answer_and_falls_back_when_it_fails() {
    use zhiku_testkit::{FakeLlm, Reply};
    let work = tempfile::tempdir().unwrap();
    let mini = fixtures().join("mini");
    let data = work.path().to_path_buf();
    let ingest =
        tokio::task::spawn_blocking(move || run(&data, &["ingest", mini.to_str().unwrap()]));
    assert!(ingest.await.unwrap().status.success());
    let server = FakeLlm::start(vec![
        Reply::Stream(vec!["故宫始建于".into(), "1406年[".into(), "1]。".into()]),
        Reply::Status {
            code: 503,
            retry_after: None,
        },
        Reply::Status {
            code: 503,
            retry_after: None,
        },
        Reply::Status {
            code: 503,
            retry_after: None,
        },
    ])
    .await;
    let ask = |question: &'static str| {
        let mut cmd = zhiku(work.path(), &["ask", question]);
        cmd.env("ZHIKU_LLM_URL", server.base_url())
            .env("ZHIKU_LLM_MODEL", "fake-model")
            .env("ZHIKU_LLM_KEY_ENV", "ZHIKU_TEST_LLM_KEY")
            .env("ZHIKU_TEST_LLM_KEY", "sk-cli-test");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let out = ask("故宫始建于哪一年？").await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("故宫始建于1406年[1]。"), "{stdout}");
    assert!(
        stdout.contains("[1] ") && stdout.contains("forbidden-city.md"),
        "{stdout}"
    );
    assert!(!stdout.contains("抽取式"), "{stdout}");
    let sent = server.received();
    assert_eq!(sent[0].authorization.as_deref(), Some("Bearer sk-cli-test"));
    assert!(
        !text(&out.stderr).contains("sk-cli-test"),
        "the key never reaches the log"
    );

    let out = ask("故宫始建于哪一年？").await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("HTTP 503") && stdout.contains("抽取式"),
        "{stdout}"
    );
    assert!(stdout.contains("1406"), "{stdout}");

    // A key variable that is not set is a configuration error naming it, said once.
    let mut cmd = zhiku(work.path(), &["ask", "故宫始建于哪一年？"]);
    cmd.env("ZHIKU_LLM_URL", server.base_url())
        .env("ZHIKU_LLM_MODEL", "fake-model")
        .env("ZHIKU_LLM_KEY_ENV", "ZHIKU_TEST_KEY_NEVER_SET");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("ZHIKU_TEST_KEY_NEVER_SET").count(),
        1,
        "{stderr}"
    );
}

/// Collections on the server.
async fn collections(client: &qdrant_client::Qdrant) -> std::collections::BTreeSet<String> {
    let list = client.list_collections().await.expect("list collections");
    list.collections.into_iter().map(|c| c.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_server_eval_and_bench_work_in_scratch_collections_and_a_collection_has_one_owner() {
    let Some(url) = std::env::var("ZHIKU_TEST_QDRANT_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: eval and bench on a qdrant server (set ZHIKU_TEST_QDRANT_URL to run it)"
        );
        return;
    };
    let client = qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .expect("client");
    let before = collections(&client).await;
    let work = tempfile::tempdir().unwrap();
    let collection = format!("zhiku_cli_test_{}", std::process::id());
    let config = work.path().join("zhiku.toml");
    std::fs::write(
        &config,
        format!("[qdrant]\nurl = \"{url}\"\ncollection = \"{collection}\"\n"),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let data = work.path().join("data");
    let with_cfg = |dir: &Path, args: &[&str]| {
        zhiku(dir, args)
            .env("ZHIKU_CONFIG", cfg)
            .output()
            .expect("zhiku runs")
    };
    let vector_points = |out: Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["vector_points"].clone()
    };
    let mini = fixtures().join("mini");
    let out = with_cfg(&data, &["ingest", mini.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let points = vector_points(with_cfg(&data, &["stats"]));
    let beir = fixtures().join("beir-mini");
    let eval = with_cfg(&data, &["eval", beir.to_str().unwrap(), "--json"]);
    let bench = with_cfg(
        &data,
        &[
            "bench",
            "--corpus",
            mini.to_str().unwrap(),
            "--sizes",
            "300",
            "--queries",
            "5",
        ],
    );
    let points_after = with_cfg(&data, &["stats"]);
    let other = with_cfg(&work.path().join("other"), &["stats"]);
    let after = collections(&client).await;
    let _ = client.delete_collection(&collection).await;

    assert!(eval.status.success(), "{}", text(&eval.stderr));
    assert!(bench.status.success(), "{}", text(&bench.stderr));
    assert_eq!(
        vector_points(points_after),
        points,
        "eval and bench wrote nothing into it"
    );
    let mut expected = before.clone();
    expected.insert(collection.clone());
    assert_eq!(after, expected, "every scratch collection was removed");
    assert!(
        text(&other.stderr).contains("belongs to another data directory"),
        "{}",
        text(&other.stderr)
    );
}

/// One HTTP/1.1 request over a plain socket; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // A reset after the whole response arrived is the server closing: keep what came.
            Err(e) if !bytes.is_empty() => {
                eprintln!("after {} bytes: {e}", bytes.len());
                break;
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
    let out = String::from_utf8_lossy(&bytes).into_owned();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `zhiku serve` as a user runs it: it says where it listens, logs requests but no question,
/// sends `zhiku ingest` on the same data directory to itself, and stops cleanly on SIGTERM.
#[test]
fn serve_logs_no_questions_takes_ingests_through_itself_and_stops_on_sigterm() {
    use std::io::BufRead;
    let work = tempfile::tempdir().unwrap();
    let mini = fixtures().join("mini");
    assert!(run(work.path(), &["ingest", mini.to_str().unwrap()])
        .status
        .success());
    let key = run(work.path(), &["keys", "add", "--name", "ops", "--admin"]);
    assert!(key.status.success(), "{}", text(&key.stderr));
    let secret = text(&key.stdout).trim().to_string();
    assert!(secret.starts_with("zk_"), "{secret}");
    let listed = text(&run(work.path(), &["keys", "list"]).stdout);
    assert!(
        listed.contains("ops") && listed.contains("admin") && !listed.contains(&secret),
        "{listed}"
    );

    let log = work.path().join("serve.log");
    let mut server = zhiku(work.path(), &["serve", "--listen", "127.0.0.1:0"])
        .env("ZHIKU_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split(" at http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    assert!(first.contains("extractive"), "{first}");

    let secret_question = "故宫始建于哪一年？";
    let (st, body) = http(
        &addr,
        "POST",
        "/v1/ask",
        Some(&format!(
            "{{\"question\": \"{secret_question}\", \"remember\": false}}"
        )),
    );
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("1406"), "{body}");

    // Ingest on the served data directory goes through the server.
    let later = work.path().join("later");
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(
        later.join("bell.md"),
        "---\nid: cli-bell\ntitle: 钟楼\n---\n钟楼的大钟重六十三吨，代号 ZK-BELL-8。\n",
    )
    .unwrap();
    let refused = run(work.path(), &["ingest", later.to_str().unwrap()]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("zhiku ingest --server http://") && why.contains("keys add"),
        "{why}"
    );
    let url = format!("http://{addr}");
    let sent = zhiku(
        work.path(),
        &["ingest", "--server", &url, later.to_str().unwrap()],
    )
    .env("ZHIKU_API_KEY", &secret)
    .output()
    .unwrap();
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    assert!(
        text(&sent.stdout).contains("1 written"),
        "{}",
        text(&sent.stdout)
    );
    let (_, hits) = http(
        &addr,
        "POST",
        "/v1/search",
        Some("{\"query\": \"大钟 ZK-BELL-8\", \"k\": 1}"),
    );
    assert!(hits.contains("cli-bell"), "{hits}");

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("served") && logged.contains("/v1/ask"),
        "requests are logged: {logged}"
    );
    assert!(
        !logged.contains("故宫始建"),
        "no question text in the log: {logged}"
    );
    assert!(!logged.contains(&secret), "no key in the log");
    // A log written to a file (systemd, `docker logs`) carries no colour codes.
    assert!(
        !logged.contains('\u{1b}'),
        "ANSI escapes in a log file: {logged:?}"
    );
    assert!(
        !work.path().join("server.json").exists(),
        "the server's note is gone with it"
    );
}

#[test]
fn keys_carry_a_rate_and_an_end_and_the_audit_trail_exports_and_catches_an_edited_record() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let out = run(
        &data,
        &[
            "keys",
            "create",
            "--name",
            "his-prod",
            "--domains",
            "medicine",
            "--clearance",
            "internal",
            "--rate",
            "120/min",
            "--expires",
            "2027-06-30",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).trim().starts_with("zk_"),
        "the secret, once"
    );
    let said = text(&out.stderr);
    assert!(
        said.contains("rate 120/min") && said.contains("expires 2027-07-01 00:00 UTC"),
        "{said}"
    );
    let listed = text(&run(&data, &["keys", "list"]).stdout);
    assert!(
        listed.contains("his-prod") && listed.contains("rate 120/min"),
        "{listed}"
    );
    assert!(!listed.contains("zk_"), "secrets are never listed");
    for (bad, why) in [
        (vec!["--expires", "2020-01-01"], "in the past"),
        (vec!["--rate", "12/week"], "not a rate"),
        (vec!["--domains", "astrology"], "astrology"),
    ] {
        let mut args = vec!["keys", "create", "--name", "x"];
        args.extend(bad);
        let out = run(&data, &args);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
    }

    // Each ingest is two audit records (started, ended); the chain holds, exports as FHIR,
    // and an edited record is found.
    let (corpus, cfg, _) = eight_notes_ingested(work.path());
    let out = run(
        &data,
        &["--config", &cfg, "ingest", corpus.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&data, &["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("4 records"),
        "{}",
        text(&out.stdout)
    );
    let exported = work.path().join("audit.json");
    let out = run(
        &data,
        &[
            "audit",
            "export",
            "--since",
            "2026-01-01",
            "-o",
            exported.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    assert_eq!(
        (bundle["resourceType"].as_str(), bundle["type"].as_str()),
        (Some("Bundle"), Some("searchset"))
    );
    assert_eq!(bundle["total"], 4);
    assert_eq!(
        bundle["entry"][0]["resource"]["subtype"][0]["code"],
        "ingest"
    );
    assert_eq!(bundle["entry"][0]["resource"]["action"], "U");

    // An intruder with the database file changes the first ingest's outcome (record 2).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            sqlx::any::install_default_drivers();
            let db = sqlx::AnyPool::connect(&format!("sqlite://{}", data.join("zhiku.db").display()))
                .await
                .unwrap();
            sqlx::query("UPDATE audit_events SET record = replace(record, 'written=8', 'written=0') WHERE seq = 2")
                .execute(&db)
                .await
                .unwrap();
            db.close().await;
        });
    let out = run(&data, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("broken at record 2"),
        "{}",
        text(&out.stdout)
    );
}

/// The terminal door of the clearance matrix (`crates/server/tests/clearance_matrix.rs` has
/// the others): the operator's chosen clearance bounds searches and answers alike.
#[test]
fn the_terminal_shows_nothing_above_the_chosen_clearance() {
    use zhiku_core::Classification;
    use zhiku_testkit::clearance::{doc_id, handle, marker, write_corpus, DOMAINS};
    let work = tempfile::tempdir().unwrap();
    let corpus = work.path().join("corpus");
    write_corpus(&corpus);
    let data = work.path().join("data");
    let out = run(&data, &["ingest", corpus.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let every = |f: fn(usize, Classification) -> String| {
        DOMAINS
            .iter()
            .enumerate()
            .flat_map(|(d, _)| Classification::ALL.map(|l| f(d, l)))
            .collect::<Vec<_>>()
    };
    let query = every(handle).join(" ");
    for clearance in Classification::ALL {
        let level = clearance.as_str();
        let search = run(
            &data,
            &["search", &query, "-k", "20", "--json", "--clearance", level],
        );
        assert!(search.status.success(), "{}", text(&search.stderr));
        let question = format!("核对代号 {query} 的记录说了什么？");
        let ask = run(&data, &["ask", &question, "--json", "--clearance", level]);
        assert!(ask.status.success(), "{}", text(&ask.stderr));
        let (hits, answer) = (text(&search.stdout), text(&ask.stdout));
        for (d, domain) in DOMAINS.iter().enumerate() {
            for doc in Classification::ALL {
                let (secret, id) = (marker(d, doc), doc_id(domain, doc));
                if doc <= clearance {
                    assert!(hits.contains(&secret), "{level}: {id} missing: {hits}");
                } else {
                    for out in [&hits, &answer] {
                        assert!(
                            !out.contains(&secret) && !out.contains(&id),
                            "{level}: {id}: {out}"
                        );
                    }
                }
            }
        }
        assert!(answer.contains("\"citations\""), "{answer}");
    }
}
