//! The probe against real TCP peers on 127.0.0.1, and the binary's exit codes.

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use healthcheck::{ProbeError, probe};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one connection: reads the request head, answers `response`, and hands the request
/// head back through the returned channel.
fn serve_once(response: &'static str) -> io::Result<(u16, mpsc::Receiver<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || -> io::Result<()> {
        let (mut conn, _) = listener.accept()?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte)? == 1 {
            head.push(byte[0]);
        }
        conn.write_all(response.as_bytes())?;
        let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
        Ok(())
    });
    Ok((port, rx))
}

#[test]
fn a_2xx_answer_is_healthy_and_the_request_is_a_plain_get_with_host() {
    let (port, request) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
    let status = probe(&format!("http://127.0.0.1:{port}/health/ready"), TIMEOUT).unwrap();
    assert_eq!(status, 200);
    let head = request.recv().unwrap();
    assert!(head.starts_with("GET /health/ready HTTP/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")), "{head}");
}

#[test]
fn a_503_answer_is_unhealthy() {
    let (port, _) = serve_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").unwrap();
    let err = probe(&format!("http://127.0.0.1:{port}/health/ready"), TIMEOUT).unwrap_err();
    assert!(matches!(err, ProbeError::Status(503)), "{err}");
}

#[test]
fn a_peer_that_does_not_speak_http_is_unhealthy() {
    let (port, _) = serve_once("SSH-2.0-OpenSSH_9.2\r\n").unwrap();
    let err = probe(&format!("http://127.0.0.1:{port}/"), TIMEOUT).unwrap_err();
    assert!(matches!(err, ProbeError::NotHttp(_)), "{err}");
}

#[test]
fn a_closed_port_is_unhealthy() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = probe(&format!("http://127.0.0.1:{port}/"), TIMEOUT).unwrap_err();
    assert!(matches!(err, ProbeError::Io(_)), "{err}");
}

#[test]
fn a_peer_that_accepts_but_never_answers_is_unhealthy_after_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = probe(&format!("http://127.0.0.1:{port}/"), Duration::from_millis(200)).unwrap_err();
    assert!(matches!(err, ProbeError::Io(_)), "{err}");
    drop(listener);
}

#[test]
fn the_binary_asks_the_readiness_endpoint_on_port_and_exits_0_when_healthy() {
    let (port, request) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
    let status =
        Command::new(env!("CARGO_BIN_EXE_healthcheck")).env("PORT", port.to_string()).status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(request.recv().unwrap().starts_with("GET /health/ready HTTP/1.1\r\n"));
}

#[test]
fn the_binary_exits_1_when_unhealthy_and_2_when_called_wrongly() {
    let (port, _) = serve_once("HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n").unwrap();
    let bin = env!("CARGO_BIN_EXE_healthcheck");
    let unhealthy = Command::new(bin).arg(format!("http://127.0.0.1:{port}/")).status().unwrap();
    assert_eq!(unhealthy.code(), Some(1));
    let no_port = Command::new(bin).env_remove("PORT").status().unwrap();
    assert_eq!(no_port.code(), Some(2));
    let bad_url = Command::new(bin).arg("https://127.0.0.1/").status().unwrap();
    assert_eq!(bad_url.code(), Some(2));
}
