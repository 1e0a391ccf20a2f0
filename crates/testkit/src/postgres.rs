//! A PostgreSQL cluster of a test's own, for tests that stop the database under a running
//! server and start it again: Debian's package (the `bin` folder `deploy/test/with-postgres.sh`
//! exports as `ZHIKU_TEST_PG_BIN`), a fresh cluster on a free loopback port in a folder of its
//! own, removed when dropped. As root, the cluster runs as the package's `postgres` user
//! (PostgreSQL refuses root). Without the variable, [`postgres_bin`] prints a SKIPPED notice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::qdrant::free_port;

/// PostgreSQL's `bin` folder, or `None` after printing that `what` is skipped.
pub fn postgres_bin(what: &str) -> Option<PathBuf> {
    match std::env::var_os("ZHIKU_TEST_PG_BIN").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {what} (ZHIKU_TEST_PG_BIN is not set; make test sets it)"
            );
            None
        }
    }
}

/// One PostgreSQL cluster; stopped and removed when dropped.
pub struct PostgresServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
}

impl PostgresServer {
    /// Makes a cluster (user `zhiku`, trust on loopback) and starts it.
    pub fn start(bin: &Path) -> std::io::Result<Self> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("zhiku-pg-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let uid = Command::new("id").arg("-u").output()?;
        let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let server = Self {
            bin: bin.to_path_buf(),
            dir,
            port: free_port()?,
            as_root,
        };
        if as_root {
            server.run(Command::new("chown").arg("postgres").arg(&server.dir))?;
        }
        server.run(
            server
                .tool("initdb")
                .arg("-D")
                .arg(server.dir.join("data"))
                .args([
                    "-U",
                    "zhiku",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]),
        )?;
        server.resume()?;
        Ok(server)
    }

    /// `postgres://…` for this cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://zhiku@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn stop(&self) -> std::io::Result<()> {
        self.run(self.ctl().args(["-m", "immediate", "-w", "stop"]))
    }

    /// Starts it again on the same port and data; returns once it accepts connections.
    pub fn resume(&self) -> std::io::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        self.run(
            self.ctl()
                .args(["-w", "-t", "30", "-l"])
                .arg(self.dir.join("server.log"))
                .args(["-o", &options, "start"]),
        )
    }

    fn ctl(&self) -> Command {
        let mut c = self.tool("pg_ctl");
        c.arg("-D").arg(self.dir.join("data"));
        c
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, cmd: &mut Command) -> std::io::Result<()> {
        let out = cmd.output()?;
        if out.status.success() {
            return Ok(());
        }
        Err(std::io::Error::other(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self.run(self.ctl().args(["-m", "immediate", "stop"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
