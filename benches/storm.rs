//! A storm of concurrent callers (issue 20, item 4), for
//! `tests/bench/storm.sh`: CALLERS keep-alive connections are opened and
//! each is warmed up with one request to WARM_URL, so no connect or accept
//! is measured; then all of them send one GET to URL at the same moment,
//! and the time from each caller's write to the last byte of its answer is
//! recorded. Prints one JSON line: the latency percentiles in milliseconds
//! and the answers by status.
//!
//!   storm CALLERS URL WARM_URL [HEADER: VALUE]...
//!
//! A plain HTTP/1.1 client over tokio's TCP, so the client's own cost is
//! small and the same for every URL: the storm on the token API and the
//! storm on `/healthz` at the same concurrency differ only in the server's
//! work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};

/// How many connects may be under way at once: the listen backlog is finite.
const CONNECTING: usize = 256;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [callers, url, warm, headers @ ..] = args.as_slice() else {
        panic!("usage: storm CALLERS URL WARM_URL [HEADER: VALUE]...");
    };
    let callers: usize = callers.parse().expect("CALLERS is a number");
    let target = Target::parse(url, headers);
    let warm = Target::parse(warm, headers);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(storm(callers, target, warm));
    println!("{report}");
}

struct Target {
    addr: String,
    request: Vec<u8>,
}

impl Target {
    fn parse(url: &str, headers: &[String]) -> Arc<Self> {
        let rest = url.strip_prefix("http://").expect("an http:// URL");
        let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        Arc::new(Self {
            addr: addr.to_string(),
            request: request.into_bytes(),
        })
    }
}

async fn storm(callers: usize, target: Arc<Target>, warm: Arc<Target>) -> String {
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let barrier = Arc::new(Barrier::new(callers + 1));
    let mut tasks = Vec::with_capacity(callers);
    for _ in 0..callers {
        let (target, warm) = (Arc::clone(&target), Arc::clone(&warm));
        let (connecting, barrier) = (Arc::clone(&connecting), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await.unwrap();
            let mut stream = TcpStream::connect(&target.addr).await;
            if let Ok(s) = &mut stream {
                let _ = s.set_nodelay(true);
            }
            let warmed = match &mut stream {
                Ok(s) => exchange(s, &warm.request).await.map(|_| ()),
                Err(e) => Err(format!("connect: {e}")),
            };
            drop(permit);
            barrier.wait().await;
            let mut stream = stream.map_err(|e| e.to_string())?;
            warmed?;
            let started = Instant::now();
            let status = exchange(&mut stream, &target.request).await?;
            Ok::<_, String>((status, started.elapsed()))
        }));
    }
    barrier.wait().await;
    let began = Instant::now();
    let mut latencies = Vec::with_capacity(callers);
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok((status, took)) => {
                latencies.push(took);
                *statuses.entry(status.to_string()).or_default() += 1;
            }
            Err(e) => *statuses.entry(format!("error: {e}")).or_default() += 1,
        }
    }
    let wall = began.elapsed();
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        ms(latencies[i])
    };
    let statuses: Vec<String> = statuses
        .iter()
        .map(|(k, v)| format!("\"{}\":{v}", k.replace('"', "'")))
        .collect();
    format!(
        "{{\"callers\":{callers},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2},\"wall_ms\":{:.2},\"statuses\":{{{}}}}}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
        ms(wall),
        statuses.join(",")
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sends one request and reads its whole answer; returns the status code.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Result<u16, String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed before the answer ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| "non-UTF-8 head")?;
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or("no status line")?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or("no content-length")?;
            while buf.len() < end + 4 + length {
                let n = stream
                    .read(&mut chunk)
                    .await
                    .map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("connection closed inside the body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
