//! What the OpenAPI document promises about inputs is exactly what the
//! handlers accept, and malformed input gets a documented JSON error. These
//! cover the findings of the first Schemathesis run.

use regex::Regex;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use tokenbroker::domain::{Email, Label, Required};

use crate::helpers::{error_code, spawn_app, spawn_app_with};

/// Characters that sit on the edges of the rules: white space the parser
/// trims, control characters, separators, and non-ASCII letters (lengths
/// count characters, not bytes).
const EDGES: [char; 16] = [
    'a', '.', '@', ' ', '\t', '\u{85}', '\u{a0}', '\u{1c}', '\u{7f}', '\u{9f}', '\u{feff}',
    '\u{2028}', '\u{3000}', 'é', 'İ', '/',
];

fn email_candidates() -> Vec<String> {
    let mut out: Vec<String> = [
        "a@b.c",
        "A.B@Example.COM",
        "  a@b.c  ",
        "@b.c",
        "a@b",
        "a@.b",
        "a@b.",
        "a@b..c",
        "a@@b.c",
        ".a@b.c",
        "a..b@c.d",
        "",
        " ",
        "a@b.c.d",
    ]
    .map(String::from)
    .to_vec();
    for c in EDGES {
        for template in [
            "{}a@b.c", "a{}@b.c", "a@{}b.c", "a@b{}.c", "a@b.{}c", "a@b.c{}",
        ] {
            out.push(template.replace("{}", &c.to_string()));
        }
    }
    // Local parts at the limit, where bytes and characters differ and where they agree.
    for local in [64, 65] {
        out.push(format!("{}@b.c", "é".repeat(local)));
        out.push(format!("{}@b.c", "a".repeat(local)));
    }
    for (padding, domain) in [(0, 248), (0, 249), (10, 240)] {
        out.push(format!("{}a@{}.c", " ".repeat(padding), "d".repeat(domain)));
    }
    out
}

#[test]
fn the_email_schema_accepts_exactly_what_the_parser_accepts() {
    let pattern = Regex::new(&Email::pattern()).unwrap();
    for candidate in email_candidates() {
        let schema_ok =
            pattern.is_match(&candidate) && candidate.chars().count() <= Email::MAX_CHARS;
        assert_eq!(
            Email::parse(&candidate).is_ok(),
            schema_ok,
            "{candidate:?} (schema says {schema_ok})"
        );
    }
}

#[test]
fn the_required_text_schema_accepts_exactly_what_the_parser_accepts() {
    let schema = Required::schema(8);
    let pattern = Regex::new(schema.pattern.as_deref().unwrap()).unwrap();
    let (min, max) = (schema.min_length.unwrap(), schema.max_length.unwrap());
    let mut candidates = vec![String::new(), "x".repeat(8), "x".repeat(9), "é".repeat(8)];
    candidates.push(format!("{}x", " ".repeat(8)));
    for c in EDGES {
        candidates.push(c.to_string());
        candidates.push(format!(" {c} "));
    }
    for candidate in candidates {
        let len = candidate.chars().count();
        let schema_ok = pattern.is_match(&candidate) && (min..=max).contains(&len);
        assert_eq!(
            Required::parse("field", &candidate, 8).is_ok(),
            schema_ok,
            "{candidate:?}"
        );
    }
}

#[test]
fn the_label_schema_accepts_exactly_what_the_parser_accepts() {
    let schema = Label::schema();
    let pattern = Regex::new(schema.pattern.as_deref().unwrap()).unwrap();
    let max = schema.max_length.unwrap();
    let mut candidates = vec![
        String::new(),
        "x".repeat(max),
        "x".repeat(max + 1),
        "é".repeat(max),
        format!("{}x", " ".repeat(max)),
        "\u{0}".into(),
        "crm \u{202e}yek".into(),
        "crm \u{2069}".into(),
        "crm \u{2067}".into(),
        "crm \u{2065}".into(),
        "crm \u{202f}".into(),
    ];
    for c in EDGES {
        candidates.push(c.to_string());
        candidates.push(format!("crm {c} key"));
    }
    for candidate in candidates {
        let schema_ok = pattern.is_match(&candidate) && candidate.chars().count() <= max;
        assert_eq!(Label::parse(&candidate).is_ok(), schema_ok, "{candidate:?}");
    }
    assert_eq!(
        Label::parse(" \u{3000} ").unwrap(),
        None,
        "blank is no label"
    );
}

#[test]
fn the_document_names_the_code_enums_limits_and_required_fields() {
    let doc = serde_json::to_value(tokenbroker::openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let texts = |name: &str| schemas[name]["enum"].clone();
    assert_eq!(texts("AppType"), json!(["user", "account"]));
    assert_eq!(
        texts("ConnectionStatus"),
        json!(["active", "needs_reauth", "revoked"])
    );
    assert_eq!(texts("AuthType"), json!(["oauth", "s2s", "jwt"]));
    assert_eq!(
        texts("MigrationState"),
        json!(["oauth", "s2s", "jwt_only", "jwt_expired", "none"])
    );
    let all_actions: Vec<&str> = tokenbroker::domain::AuditAction::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(texts("AuditAction"), json!(all_actions));
    let refs = [
        ("NewConnectSession", "app_type", "AppType"),
        ("NewConnectSession", "email", "Email"),
        ("Connection", "status", "ConnectionStatus"),
        ("Token", "auth_type", "AuthType"),
        ("AuditEntry", "action", "AuditAction"),
        ("AuditEntry", "outcome", "AuditOutcome"),
        ("ReportOrg", "state", "MigrationState"),
        ("S2sCredentials", "email", "Email"),
    ];
    for (schema, field, target) in refs {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"],
            format!("#/components/schemas/{target}"),
            "{schema}.{field}"
        );
    }
    // Option fields are optional; everything always sent is required.
    assert_eq!(
        schemas["Token"]["required"],
        json!([
            "access_token",
            "token_type",
            "expires_at",
            "auth_type",
            "scopes",
            "warnings"
        ])
    );
    assert_eq!(
        schemas["NewConnectSession"]["required"],
        json!(["org", "email", "app_type"])
    );
    assert_eq!(
        schemas["S2sCredentials"]["properties"]["account_id"]["minLength"],
        1
    );
    let audit = &doc["paths"]["/api/v1/orgs/{org}/audit"]["get"]["parameters"];
    let limit = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(
        limit["schema"]["maximum"],
        tokenbroker::service::audit::MAX_PAGE
    );
    assert_eq!(
        limit["schema"]["default"],
        tokenbroker::service::audit::DEFAULT_PAGE
    );
}

#[tokio::test]
async fn malformed_queries_and_paths_get_documented_json_errors() {
    let app = spawn_app().await;
    let all = app.all_orgs_key().await;
    let report = app
        .get_as(&all, "/api/v1/migration-report?format=AAA")
        .await;
    assert_eq!(
        error_code(report, StatusCode::BAD_REQUEST).await,
        "invalid_query"
    );
    for (query, code) in [
        ("limit=201", "invalid_limit"),
        ("limit=0", "invalid_limit"),
        ("before=0", "invalid_before"),
        ("before=yesterday", "invalid_query"),
        ("limit=1e3", "invalid_limit"),
    ] {
        let response = app.get(&format!("/api/v1/orgs/acme/audit?{query}")).await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            code,
            "{query}"
        );
    }
    let page = app.get("/api/v1/orgs/acme/audit?limit=200&before=1").await;
    assert_eq!(page.status(), StatusCode::OK);
    // %FF is not UTF-8 once decoded.
    let path = app.get("/api/v1/orgs/%FF/connections").await;
    assert_eq!(
        error_code(path, StatusCode::BAD_REQUEST).await,
        "invalid_path"
    );
}

#[tokio::test]
async fn blank_s2s_ids_are_refused_as_the_document_says() {
    let app = spawn_app().await;
    for (field, value) in [
        ("account_id", ""),
        ("client_id", "  "),
        ("client_secret", "\t"),
    ] {
        let mut body = json!({
            "email": "admin@acme.example", "account_id": "acc", "client_id": "cid",
            "client_secret": "secret",
        });
        body[field] = Value::from(value);
        let response = app
            .send_json(Method::PUT, "/api/v1/orgs/acme/s2s-credentials", body)
            .await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "invalid_field",
            "{field}"
        );
    }
    assert_eq!(
        app.counters().account_credentials,
        0,
        "nothing reached Zoom"
    );
}

#[tokio::test]
async fn lengths_count_characters_as_the_document_does() {
    let app = spawn_app_with(&[(
        "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
        "2099-01-01T00:00:00Z",
    )])
    .await;
    let put = |api_key: String| {
        app.send_json(
            Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({ "api_key": api_key, "api_secret": "s" }),
        )
    };
    // 256 two-byte characters: within maxLength 256, although 512 bytes.
    assert_eq!(put("é".repeat(256)).await.status(), StatusCode::NO_CONTENT);
    let too_long = put("é".repeat(257)).await;
    assert_eq!(
        error_code(too_long, StatusCode::BAD_REQUEST).await,
        "invalid_field"
    );
    // A 64-character local part is an email even when it is 128 bytes.
    let email = format!("{}@acme.example", "é".repeat(64));
    let token = app.token(&email).await;
    assert_ne!(token.status(), StatusCode::BAD_REQUEST);
    let longer = app.token(&format!("{}@acme.example", "é".repeat(65))).await;
    assert_eq!(
        error_code(longer, StatusCode::BAD_REQUEST).await,
        "invalid_email"
    );
}

/// PostgreSQL cannot store NUL in text, and SQLite would keep it: either way
/// a NUL, or any control character in a one-line field, is a 400 before the
/// database sees it, never a 503 "database unavailable" or a stored oddity.
#[tokio::test]
async fn nul_and_control_characters_are_refused_at_the_edge() {
    let app = spawn_app().await;
    let all = app.all_orgs_key().await;
    for label in [
        "(:\u{7f}\u{0};6\u{a1}",
        "a\u{0}b",
        "line\nbreak",
        "tab\there",
    ] {
        let response = app
            .send_json_as(
                &all,
                Method::POST,
                "/api/v1/api-keys",
                json!({ "org": "acme", "label": label, "expires_in_secs": 97.0 }),
            )
            .await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "invalid_label",
            "{label:?}"
        );
    }
    let ok = app
        .send_json_as(
            &all,
            Method::POST,
            "/api/v1/api-keys",
            json!({ "org": "acme", "label": "  CRM é  " }),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["label"], "CRM é");

    // No slug or id we issue holds NUL: one that does names nothing, as
    // any unknown one (the document allows any string there), and never
    // reaches PostgreSQL, which could not even compare it.
    for (path, status, code) in [
        ("/api/v1/orgs/%00/connections", 404, "not_found"),
        ("/api/v1/orgs/a%00b/audit", 404, "not_found"),
        ("/api/v1/orgs/acme/connections/%00", 404, "not_found"),
        ("/api/v1/events?org=%00", 404, "not_found"),
        ("/api/v1/api-keys?org=%00", 404, "not_found"),
        (
            "/api/v1/orgs/acme/connections?email_prefix=a%00",
            400,
            "invalid_email_prefix",
        ),
    ] {
        let response = app.get_as(&all, path).await;
        let status = StatusCode::from_u16(status).unwrap();
        assert_eq!(error_code(response, status).await, code, "{path}");
    }
    let revoke = app
        .api
        .delete(format!("{}/api/v1/api-keys/%00", app.base))
        .bearer_auth(&all)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(revoke, StatusCode::NOT_FOUND).await, "not_found");
    let webhook = app
        .api
        .post(format!("{}/webhooks/zoom/%00", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(webhook, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    // A control character other than NUL is stored nowhere and simply not found.
    let other = app.get_as(&all, "/api/v1/orgs/%01/connections").await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}
