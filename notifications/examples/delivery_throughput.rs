//! Measures e-mails per second from `POST /notifications` to a local SMTP server, and the
//! capacity of that SMTP server on its own. Not a test: it prints figures.
//!
//! ```sh
//! cargo build --release -p notifications
//! cargo run --release -p notifications --example delivery_throughput -- target/release/notifications 2000
//! ```
//!
//! It starts the test SMTP server (`test_support::smtp`) in this process, starts the given
//! notifications binary on a free port with a fresh SQLite database and `SMTP_URL` pointing at
//! that server, posts N jobs (16 at a time), and times until `notifications_sent_total` reaches N.
//! With `BENCH_SMTP_URL` set, the service sends there instead (e.g. the aiosmtpd sink of the
//! shared tools). Then it sends N messages straight to the SMTP server with `lettre` (as many at once as the
//! service's `SMTP_MAX_CONCURRENCY`) to show what the server alone takes. It also prints the
//! service's resident memory when idle before and after the run.

#![allow(clippy::print_stdout)] // a measuring tool: printing its figures is its job

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use test_support::smtp::SmtpServer;
use test_support::{TempDir, wait_until};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let binary = args.next().unwrap_or_else(|| "target/release/notifications".into());
    let jobs: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(2000);
    let concurrency: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(4);

    // BENCH_SMTP_URL sends to another server (such as the aiosmtpd sink) instead.
    let external = std::env::var("BENCH_SMTP_URL").ok().filter(|u| !u.is_empty());
    let server = SmtpServer::start().await;
    let smtp_url = external.clone().unwrap_or_else(|| server.url());
    let dir = TempDir::new("notifications-bench");
    let port = free_port()?;
    let mut child = tokio::process::Command::new(&binary)
        .env("PORT", port.to_string())
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()))
        .env("NOTIFICATION_TOKENS", "bench-token")
        .env("ADMIN_PASSWORD", "bench")
        .env("SMTP_URL", &smtp_url)
        .env("SMTP_MAX_CONCURRENCY", concurrency.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build()?;
    wait_until("the service to be ready", Duration::from_secs(30), || async {
        client.get(format!("{base}/health/ready")).send().await.ok().filter(|r| r.status().is_success())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("idle RSS after start: {} KiB", rss_kib(pid));

    let started = Instant::now();
    let posted = futures_util::stream::iter(0..jobs)
        .map(|i| {
            let client = client.clone();
            let url = format!("{base}/notifications");
            async move {
                let body = serde_json::json!({
                    "email": format!("person{i}@example.org"),
                    "subject": format!("Invitation {i}"),
                    "message": "You are invited to the meeting on Monday at 10:00.\nSee you there!",
                });
                client
                    .post(url)
                    .bearer_auth("bench-token")
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let post_time = started.elapsed();
    let accepted = posted.iter().filter(|s| matches!(s, Ok(202))).count();
    anyhow::ensure!(accepted == jobs, "only {accepted} of {jobs} jobs accepted");
    wait_until("all jobs sent", Duration::from_secs(600), || async {
        (sent_total(&client, &base).await >= jobs as f64).then_some(())
    })
    .await;
    let total = started.elapsed();
    if external.is_none() {
        anyhow::ensure!(
            server.messages().len() == jobs,
            "the server holds {} messages",
            server.messages().len()
        );
    }
    println!(
        "service: {jobs} jobs posted in {:.2} s ({:.0} req/s); all sent to {smtp_url} after {:.2} s: \
         {:.0} e-mails/s (SMTP_MAX_CONCURRENCY={concurrency}, SQLite)",
        post_time.as_secs_f64(),
        jobs as f64 / post_time.as_secs_f64(),
        total.as_secs_f64(),
        jobs as f64 / total.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("idle RSS after the run: {} KiB", rss_kib(pid));
    child.kill().await?;

    // The SMTP server alone, with lettre's pool and the same concurrency.
    let direct = SmtpServer::start().await;
    let transport = Arc::new(
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&direct.url())?
            .pool_config(PoolConfig::new().max_size(concurrency as u32))
            .build(),
    );
    let started = Instant::now();
    let results = futures_util::stream::iter(0..jobs)
        .map(|i| {
            let transport = transport.clone();
            async move {
                let message = Message::builder()
                    .from("Notifications <notifications@localhost>".parse()?)
                    .to(format!("person{i}@example.org").parse()?)
                    .subject(format!("Invitation {i}"))
                    .body("You are invited to the meeting on Monday at 10:00.\nSee you there!".to_string())?;
                transport.send(message).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let elapsed = started.elapsed();
    anyhow::ensure!(results.iter().all(Result::is_ok), "direct sends failed");
    println!(
        "SMTP server, lettre straight to it: {jobs} messages ({concurrency} at a time) in {:.2} s: {:.0} messages/s",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64()
    );

    // The server's own capacity, with a minimal client that sets TCP_NODELAY and writes each
    // message and its final dot in one go (lettre 0.11.23 does neither, see the crate docs).
    let raw = SmtpServer::start().await;
    let started = Instant::now();
    let per_connection = jobs / concurrency;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let addr = raw.addr();
        clients.spawn(async move { raw_sends(addr, per_connection).await });
    }
    while let Some(done) = clients.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    let sent = per_connection * concurrency;
    anyhow::ensure!(raw.messages().len() == sent, "the server holds {} messages", raw.messages().len());
    println!(
        "SMTP server, minimal TCP_NODELAY client: {sent} messages ({concurrency} connections) in {:.2} s: {:.0} messages/s",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Sends `count` small messages over one connection, waiting for each reply.
async fn raw_sends(addr: std::net::SocketAddr, count: usize) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    let mut expect = async |read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str| {
        loop {
            line.clear();
            read.read_line(&mut line).await?;
            anyhow::ensure!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return anyhow::Ok(());
            }
        }
    };
    expect(&mut read, "220").await?;
    write.write_all(b"EHLO bench\r\n").await?;
    expect(&mut read, "250").await?;
    for i in 0..count {
        for (command, code) in [
            ("MAIL FROM:<notifications@localhost>\r\n".to_string(), "250"),
            (format!("RCPT TO:<person{i}@example.org>\r\n"), "250"),
            ("DATA\r\n".to_string(), "354"),
            (
                format!(
                    "From: notifications@localhost\r\nTo: person{i}@example.org\r\nSubject: Invitation {i}\r\n\r\n\
                     You are invited to the meeting on Monday at 10:00.\r\nSee you there!\r\n.\r\n"
                ),
                "250",
            ),
        ] {
            write.write_all(command.as_bytes()).await?;
            expect(&mut read, code).await?;
        }
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn sent_total(client: &reqwest::Client, base: &str) -> f64 {
    let Ok(response) = client.get(format!("{base}/metrics")).send().await else { return 0.0 };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("notifications_sent_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn rss_kib(pid: u32) -> String {
    std::process::Command::new("ps")
        .args(["-o", "rss=", "-p", &pid.to_string()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
