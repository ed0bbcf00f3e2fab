//! The host list is tried in order with the read-write check: a standby
//! listed first is passed over, a list of standbys is refused with the
//! reason, and `any` takes the first host that answers (here: read-only).

use super::{on_postgres_run, Pair};

#[tokio::test]
async fn a_standby_listed_first_is_passed_over_and_only_standbys_are_refused() {
    if !on_postgres_run("host list order") {
        return;
    }
    let pair = Pair::start(&[]).await;
    let (p, s) = (pair.primary.port(), pair.standby.port());
    let url = |hosts: &str, attrs: &str| {
        format!("postgres://postgres@{hosts}/postgres?target_session_attrs={attrs}")
    };
    let standby_first = url(&format!("127.0.0.1:{s},127.0.0.1:{p}"), "read-write");
    let store = tokenbroker::store::connect(&standby_first)
        .await
        .expect("the primary, second in the list, is found");
    crate::helpers::create_org(&store, "acme").await;
    assert!(store.org_by_slug("acme").await.unwrap().is_some());

    let only_standby = url(&format!("127.0.0.1:{s}"), "read-write");
    let err = tokenbroker::store::connect(&only_standby)
        .await
        .err()
        .expect("a standby alone is refused");
    assert!(
        err.to_string()
            .contains("no writable PostgreSQL host among"),
        "{err}"
    );

    // `any` takes the standby as it is: migrations cannot run there.
    let any = url(&format!("127.0.0.1:{s},127.0.0.1:{p}"), "any");
    assert!(tokenbroker::store::connect(&any).await.is_err());
}
