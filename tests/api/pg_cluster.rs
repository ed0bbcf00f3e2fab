//! A throwaway PostgreSQL cluster for database-fault tests: its own data
//! directory in a temp dir and a random port, so stopping it never touches
//! the shared server other tests use. Needs `initdb` and `postgres` on PATH.
//! PostgreSQL refuses to run as root, so as root both run as `postgres`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

pub struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn pg_command(program: &str, args: &[&str]) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program)
        .args(args);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }
}

impl PgCluster {
    /// Creates the cluster and starts it; panics with the reason if it cannot.
    pub async fn start() -> PgCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root() {
            let chown = Command::new("chown")
                .args(["postgres:postgres", &dir.path().display().to_string()])
                .status()
                .expect("chown the cluster directory");
            assert!(chown.success(), "chown the cluster directory");
        }
        let data = dir.path().join("data");
        let init = pg_command(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )
        .stdout(Stdio::null())
        .output()
        .expect("initdb is on PATH (the database-fault tests need it)");
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let mut cluster = PgCluster {
            dir,
            port: free_port(),
            server: None,
        };
        cluster.resume().await;
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A URL for the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server on the same port and data, and waits until it accepts connections.
    pub async fn resume(&mut self) {
        assert!(self.server.is_none(), "already running");
        let log = std::fs::File::create(self.log()).unwrap();
        let (data, socket_dir, port) = (
            self.data().display().to_string(),
            self.dir.path().display().to_string(),
            self.port.to_string(),
        );
        let child = pg_command(
            "postgres",
            &[
                "-D",
                &data,
                "-p",
                &port,
                "-k",
                &socket_dir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("postgres is on PATH (the database-fault tests need it)");
        self.server = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        use sqlx::Connection;
        let deadline = Instant::now() + Duration::from_secs(30);
        while sqlx::PgConnection::connect(&self.url()).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "postgres did not start: {}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fast shutdown (SIGINT): clients are disconnected, the server exits.
    pub fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        signal(&child, "-INT");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "postgres ignored SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
}

fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status();
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            // Immediate shutdown: nothing here is worth keeping.
            signal(&child, "-QUIT");
            let _ = child.wait();
        }
    }
}
