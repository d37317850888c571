//! Scenario 8's e-mail side: how many e-mails per second notifications delivers to a local SMTP
//! server, and what that server takes on its own.
//!
//! The SMTP server is `test_support::smtp::SmtpServer` (a real SMTP conversation, every message
//! recorded) running in this harness. Its own capacity is measured by a separate process
//! (`drivers bench-smtp-client`, pinned where the service runs) with two clients: a minimal one
//! that sets `TCP_NODELAY` and writes each message with its final dot in one write (what the
//! server can take), and `lettre` 0.11.23's own pooled transport, which leaves Nagle on (what
//! that transport gets from the same server; notifications speaks SMTP with `lettre` too, but
//! over connections it opens itself with `TCP_NODELAY`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What `bench-smtp-client` prints (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRun {
    pub client: String,
    pub connections: usize,
    pub messages: u64,
    pub seconds: f64,
    pub messages_per_s: f64,
}

/// `drivers bench-smtp-client --url smtp://127.0.0.1:PORT --client raw|lettre --connections N --seconds S`:
/// sends small messages for S seconds over N connections and prints a [`ClientRun`] as JSON.
pub async fn client_main(args: &[String]) -> anyhow::Result<()> {
    let mut url = None;
    let mut client = "raw".to_string();
    let mut connections = 4usize;
    let mut seconds = 5u64;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?),
            "--client" => client = value()?,
            "--connections" => connections = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let url = url.context("--url is required")?;
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();
    let messages = match client.as_str() {
        "raw" => raw_client(&url, connections, duration).await?,
        "lettre" => lettre_client(&url, connections, duration).await?,
        other => anyhow::bail!("unknown client {other} (raw or lettre)"),
    };
    let elapsed = started.elapsed().as_secs_f64();
    let run = ClientRun {
        client,
        connections,
        messages,
        seconds: elapsed,
        messages_per_s: messages as f64 / elapsed,
    };
    println!("{}", serde_json::to_string(&run)?);
    Ok(())
}

const BODY: &str = "You are invited to the meeting on Monday at 10:00.\r\nSee you there!";

async fn raw_client(url: &str, connections: usize, duration: Duration) -> anyhow::Result<u64> {
    let addr = url.trim_start_matches("smtp://").to_string();
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let addr = addr.clone();
        tasks.spawn(async move { raw_connection(&addr, c, deadline).await });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done??;
    }
    Ok(total)
}

/// One connection sending transactions back to back until `deadline`, waiting for each reply.
async fn raw_connection(addr: &str, connection: usize, deadline: Instant) -> anyhow::Result<u64> {
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
    let mut sent = 0u64;
    while Instant::now() < deadline {
        let i = sent;
        let steps = [
            ("MAIL FROM:<notifications@localhost>\r\n".to_string(), "250"),
            (format!("RCPT TO:<person{connection}-{i}@example.org>\r\n"), "250"),
            ("DATA\r\n".to_string(), "354"),
            (
                format!(
                    "From: notifications@localhost\r\nTo: person{connection}-{i}@example.org\r\n\
                     Subject: Invitation {i}\r\n\r\n{BODY}\r\n.\r\n"
                ),
                "250",
            ),
        ];
        for (command, code) in steps {
            write.write_all(command.as_bytes()).await?;
            expect(&mut read, code).await?;
        }
        sent += 1;
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(sent)
}

async fn lettre_client(url: &str, connections: usize, duration: Duration) -> anyhow::Result<u64> {
    let transport = Arc::new(
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .pool_config(PoolConfig::new().max_size(connections as u32))
            .build(),
    );
    let deadline = Instant::now() + duration;
    let sent = futures_util::stream::iter(0u64..)
        .take_while(|_| std::future::ready(Instant::now() < deadline))
        .map(|i| {
            let transport = transport.clone();
            async move {
                let message = Message::builder()
                    .from("Notifications <notifications@localhost>".parse()?)
                    .to(format!("person{i}@example.org").parse()?)
                    .subject(format!("Invitation {i}"))
                    .body(BODY.replace("\r\n", "\n"))?;
                transport.send(message).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(connections)
        .collect::<Vec<_>>()
        .await;
    let failed = sent.iter().filter(|r| r.is_err()).count();
    anyhow::ensure!(failed == 0, "{failed} lettre sends failed");
    Ok(sent.len() as u64)
}
