//! A real Qdrant server for tests that need one to go away and come back: the binary named by
//! `ZHIKU_TEST_QDRANT_BIN` (built from Qdrant's public source; docs/scaling.md says how),
//! run on free loopback ports with its storage in a folder the test owns. Without the
//! variable, [`qdrant_bin`] prints a SKIPPED notice and the test returns.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Qdrant binary to test against, or `None` after printing that `what` is skipped.
pub fn qdrant_bin(what: &str) -> Option<PathBuf> {
    match std::env::var_os("ZHIKU_TEST_QDRANT_BIN").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            // Past libtest's capture, so that a skip is never silent.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {what} (set ZHIKU_TEST_QDRANT_BIN to a Qdrant server binary to run it)"
            );
            None
        }
    }
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One Qdrant process; killed when dropped.
pub struct QdrantServer {
    bin: PathBuf,
    dir: PathBuf,
    http: u16,
    grpc: u16,
    child: Option<Child>,
}

impl QdrantServer {
    /// Starts `bin` with its storage under `dir` and waits until it is ready.
    pub fn start(bin: &Path, dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut server = Self {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            http: free_port()?,
            grpc: free_port()?,
            child: None,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("qdrant.log"))?;
        let child = Command::new(&self.bin)
            .arg("--disable-telemetry")
            .current_dir(&self.dir)
            .env("RUN_MODE", "production")
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", self.dir.join("storage"))
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.dir.join("snapshots"),
            )
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60))
    }

    /// gRPC address, as `qdrant.url` takes it.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// Whether `GET /readyz` answers 200.
    pub fn ready(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.http)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        s.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
    }

    fn wait_ready(&mut self, limit: Duration) -> std::io::Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.ready() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(std::io::Error::other(format!(
                    "qdrant exited ({status}); see {}",
                    self.dir.join("qdrant.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(std::io::Error::other(format!(
            "qdrant not ready after {limit:?}; see {}",
            self.dir.join("qdrant.log").display()
        )))
    }

    /// Kills the server at once (SIGKILL), as a crash or a lost node would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same ports and storage.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        self.spawn()
    }
}

impl Drop for QdrantServer {
    fn drop(&mut self) {
        self.kill();
    }
}
