//! Sandbox-only API routes for tests of the proxy: bodies streamed both
//! ways, the headers that reached "Zoom", a redirect elsewhere.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::{admit, zoom_error};
use crate::domain::RateCategory;
use crate::sandbox::SandboxState;

/// Reads the body as it streams, keeping only its length and digest.
pub(super) async fn upload(
    State(s): State<SandboxState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(refused) = admit(&s, &headers, RateCategory::Heavy).await {
        return refused;
    }
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    let mut bytes = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return zoom_error(StatusCode::BAD_REQUEST, 300, "The body broke off.");
        };
        bytes += chunk.len() as u64;
        digest.update(&chunk);
    }
    Json(json!({ "bytes": bytes, "sha256": hex::encode(digest.finalize()) })).into_response()
}

#[derive(Deserialize)]
pub(super) struct Size {
    bytes: u64,
}

/// Streams `bytes` bytes (a repeating pattern) without holding them.
pub(super) async fn download(
    State(s): State<SandboxState>,
    Query(size): Query<Size>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admit(&s, &headers, RateCategory::Heavy).await {
        return refused;
    }
    const CHUNK: usize = 64 * 1024;
    let total = size.bytes;
    let chunk = Bytes::from(vec![b'z'; CHUNK]);
    let stream = futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            (sent < total).then(|| {
                let n = (total - sent).min(CHUNK as u64) as usize;
                (Ok::<_, std::io::Error>(chunk.slice(..n)), sent + n as u64)
            })
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    if let Ok(length) = total.to_string().parse() {
        response.headers_mut().insert("content-length", length);
    }
    response
}

/// The headers that reached "Zoom", for tests of what the proxy forwards.
pub(super) async fn echo_headers(State(s): State<SandboxState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admit(&s, &headers, RateCategory::Light).await {
        return refused;
    }
    let names: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or("<binary>").to_string(),
            )
        })
        .collect();
    Json(json!({ "headers": names })).into_response()
}

pub(super) async fn redirect(State(s): State<SandboxState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admit(&s, &headers, RateCategory::Light).await {
        return refused;
    }
    (
        StatusCode::FOUND,
        [("location", "http://127.0.0.1:9/elsewhere")],
        "",
    )
        .into_response()
}
