//! `tokenbroker demo` with zero configuration: its second org brings its own
//! Zoom app, served by the demo's sandbox; `admin-link` in the demo's
//! directory needs no variables.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{browser, decide_on_zoom, location, submit_link_page};
use crate::process::{command, free_port, run};

#[tokio::test]
async fn the_demo_serves_an_org_with_its_own_app_and_admin_link_needs_no_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (port, sandbox_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let out = dir.path().join("demo.out");
    let file = std::fs::File::create(&out).unwrap();
    let sandbox_bind = format!("127.0.0.1:{sandbox_port}");
    let bind = format!("127.0.0.1:{port}");
    let mut child = command(
        dir.path(),
        &["demo", "--sandbox-bind", &sandbox_bind],
        &[
            ("TOKENBROKER_BIND", &bind),
            ("TOKENBROKER_PUBLIC_URL", &base),
        ],
    )
    .stdin(Stdio::null())
    .stdout(file.try_clone().unwrap())
    .stderr(file)
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let printed = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.contains("tokenbroker admin-link") {
            break text;
        }
        assert!(Instant::now() < deadline, "demo did not start: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let result = std::panic::AssertUnwindSafe(check(dir.path(), &base, &printed));
    let outcome = futures::FutureExt::catch_unwind(result).await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn check(dir: &std::path::Path, base: &str, printed: &str) {
    assert!(printed.contains("demo-own-app"), "{printed}");
    assert!(
        printed.contains("tokenbroker admin-link --org demo --email admin@demo.example"),
        "{printed}"
    );
    let own_key = printed
        .lines()
        .filter_map(|l| l.trim().strip_prefix("API key: "))
        .nth(1)
        .expect("the own-app org's API key is printed")
        .to_string();
    let api = reqwest::Client::new();
    let shown: Value = api
        .get(format!("{base}/api/v1/orgs/demo-own-app/oauth-app"))
        .bearer_auth(&own_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["client_id"], "demo-own-app-client-id", "{shown}");
    assert_eq!(
        shown["webhook_url"],
        format!("{base}/webhooks/zoom/demo-own-app")
    );

    // The whole flow with the org's app at the demo's sandbox.
    let session: Value = api
        .post(format!("{base}/api/v1/connect-sessions"))
        .bearer_auth(&own_key)
        .json(&json!({ "org": "demo-own-app", "email": "ann@demo-own-app.example", "app_type": "user" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let browser = browser();
    let to_zoom = submit_link_page(&browser, session["url"].as_str().unwrap()).await;
    let authorize = location(&to_zoom);
    assert!(
        authorize.contains("client_id=demo-own-app-client-id"),
        "{authorize}"
    );
    let callback = decide_on_zoom(
        &browser,
        &authorize,
        "ann@demo-own-app.example",
        "Member",
        "allow",
    )
    .await;
    let done = browser.get(callback).send().await.unwrap();
    assert_eq!(
        done.status(),
        StatusCode::OK,
        "{}",
        done.text().await.unwrap()
    );
    let token = api
        .get(format!(
            "{base}/api/v1/orgs/demo-own-app/users/ann@demo-own-app.example/token"
        ))
        .bearer_auth(&own_key)
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    // The printed proxy line works: a meeting created and listed through the broker.
    assert!(printed.contains("/zoom/users/me/meetings"), "{printed}");
    let meetings = format!(
        "{base}/api/v1/orgs/demo-own-app/users/ann@demo-own-app.example/zoom/users/me/meetings"
    );
    let created = api
        .post(&meetings)
        .bearer_auth(&own_key)
        .json(&json!({ "topic": "Demo meeting", "type": 2, "duration": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let listed: Value = api
        .get(&meetings)
        .bearer_auth(&own_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["meetings"][0]["topic"], "Demo meeting", "{listed}");

    // A second admin link, with no variables at all, in the demo's directory.
    let link = run(
        dir,
        &[
            "admin-link",
            "--org",
            "demo",
            "--email",
            "admin@demo.example",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&link.stderr);
    assert!(link.status.success(), "{stderr}");
    assert!(stderr.contains("tokenbroker-demo.key"), "{stderr}");
    let url = String::from_utf8(link.stdout).unwrap().trim().to_string();
    let path = url::Url::parse(&url).unwrap().path().to_string();
    assert!(path.starts_with("/admin/login/"), "{url}");
    let landed = submit_link_page(&crate::helpers::browser(), &format!("{base}{path}")).await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER, "{url}");
    // Elsewhere, without the key file, the missing variable is still named.
    let elsewhere = tempfile::tempdir().unwrap();
    let bare = run(
        elsewhere.path(),
        &["admin-link", "--org", "demo", "--email", "a@demo.example"],
        &[],
    );
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("TOKENBROKER_MASTER_KEY"));
}
