//! The production build: `cargo test --no-default-features` runs the real
//! binary built without the sandbox Zoom. `serve` and the other commands
//! work; `demo` and `sandbox` stay listed and say clearly that they are not
//! in this build. (The default build runs `tests/api` instead.)
#![cfg(not(feature = "sandbox"))]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tokenbroker");

fn command(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    command(dir, args, vars).output().expect("run tokenbroker")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_and_sandbox_are_listed_but_refuse_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let help = run(dir.path(), &["--help"], &[]);
    assert!(help.status.success(), "{}", text(&help.stderr));
    let help = text(&help.stdout);
    let line = |name: &str| {
        let prefix = format!("{name} ");
        let found = help.lines().find(|l| l.trim_start().starts_with(&prefix));
        found
            .unwrap_or_else(|| panic!("`{name}` is listed:\n{help}"))
            .to_string()
    };
    assert!(line("serve").contains("production server"));
    for name in ["demo", "sandbox"] {
        assert!(line(name).contains("Not in this build"), "{}", line(name));
    }

    for args in [&["demo"][..], &["sandbox", "--bind", "127.0.0.1:0"]] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("error: this build has no sandbox Zoom"),
            "{args:?}: {err}"
        );
        assert!(
            text(&out.stdout).is_empty(),
            "{args:?} printed nothing else"
        );
    }
    // Refused before doing anything: no demo key file, no database.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[tokio::test]
async fn serve_and_the_admin_commands_work_without_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let help = run(dir.path(), &["serve", "--help"], &[]);
    assert!(help.status.success(), "{}", text(&help.stderr));

    let key = run(dir.path(), &["gen-key"], &[]);
    assert!(key.status.success(), "{}", text(&key.stderr));
    let key = text(&key.stdout).trim().to_string();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("tb.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("TOKENBROKER_MASTER_KEY", key.as_str()),
        ("TOKENBROKER_BIND", bind.as_str()),
    ];
    for args in [&["migrate"][..], &["org", "create", "acme"]] {
        let out = run(dir.path(), args, &vars);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let created = run(dir.path(), &["api-key", "create", "--org", "acme"], &vars);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let api_key = text(&created.stdout).lines().last().unwrap().to_string();

    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut server = command(dir.path(), &["serve"], &vars)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn serve");
    let client = reqwest::Client::new();
    let base = format!("http://{bind}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if let Some(status) = server.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
            panic!("serve exited with {status}:\n{log}");
        }
        assert!(Instant::now() < deadline, "serve never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed = client
        .get(format!("{base}/api/v1/orgs/acme/connections"))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    let status = listed.status();
    let body = listed.text().await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"connections":[]}"#);
}
