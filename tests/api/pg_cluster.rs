//! A throwaway PostgreSQL cluster for database-fault tests: its own data
//! directory in a temp dir and a random port, so stopping it never touches
//! the shared server other tests use. Needs `initdb` and `postgres` on PATH
//! (and `pg_basebackup` for a standby). PostgreSQL refuses to run as root,
//! so as root they run as `postgres`.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

pub struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
    /// `-c name=value` settings the server starts with.
    settings: Vec<String>,
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
        Self::start_with(&[]).await
    }

    /// As `start`, with `name=value` server settings.
    pub async fn start_with(settings: &[&str]) -> PgCluster {
        let dir = owned_temp_dir();
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
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.resume().await;
        cluster
    }

    /// A streaming-replication standby of `primary` (`pg_basebackup -R`),
    /// started with `settings`, once it accepts (read-only) connections.
    pub async fn standby_of(primary: &PgCluster, settings: &[&str]) -> PgCluster {
        let dir = owned_temp_dir();
        let data = dir.path().join("data").display().to_string();
        let port = primary.port.to_string();
        let backup = pg_command(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        )
        .stdout(Stdio::null())
        .output()
        .expect("pg_basebackup is on PATH (the failover tests need it)");
        assert!(
            backup.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&backup.stderr)
        );
        let mut cluster = PgCluster {
            dir,
            port: free_port(),
            server: None,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.resume().await;
        cluster
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The machine dies: SIGKILL to the postmaster and every backend at
    /// once (its process group), so no connection outlives it.
    pub fn kill(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
    }

    /// Promotes a standby and waits until it takes writes.
    pub async fn promote(&self) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
        let done: bool = sqlx::query_scalar("SELECT pg_promote(true, 30)")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(done, "promotion did not finish: {}", self.output());
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
            ]
            .into_iter()
            .chain(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .collect::<Vec<_>>(),
        )
        .process_group(0)
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

/// A temp dir the `postgres` user may write in.
fn owned_temp_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    if is_root() {
        let chown = Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()
            .expect("chown the cluster directory");
        assert!(chown.success(), "chown the cluster directory");
    }
    dir
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
