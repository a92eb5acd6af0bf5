//! The real binary as an operator runs it: configuration errors, logs that keep
//! secrets out, and SIGTERM draining a request in flight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{JWT_SECRET, fresh_database};

const BIN: &str = env!("CARGO_BIN_EXE_gereport");

#[test]
fn a_missing_or_invalid_setting_stops_with_one_line_and_exit_code_2() {
    let cases = [
        (vec![("DATABASE_URL", "")], "DATABASE_URL"),
        (
            vec![
                ("DATABASE_URL", "postgres://x@127.0.0.1:1/x"),
                ("GEREPORT_BIND", "not-an-address"),
            ],
            "GEREPORT_BIND",
        ),
        (
            vec![
                ("DATABASE_URL", "postgres://x@127.0.0.1:1/x"),
                ("GEREPORT_JWT_SECRET", ""),
            ],
            "GEREPORT_JWT_SECRET",
        ),
        (
            vec![
                ("DATABASE_URL", "postgres://x@127.0.0.1:1/x"),
                ("GEREPORT_JWT_SECRET", "too-short"),
            ],
            "GEREPORT_JWT_SECRET",
        ),
        (
            vec![
                ("DATABASE_URL", "postgres://x@127.0.0.1:1/x"),
                ("GEREPORT_JWT_SECRET", JWT_SECRET),
                ("GEREPORT_LOG_FORMAT", "xml"),
            ],
            "GEREPORT_LOG_FORMAT",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("gereport-cfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for (vars, name) in cases {
        let mut cmd = Command::new(BIN);
        // An empty working directory: no .env is read.
        cmd.arg("serve")
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test]
async fn logs_hold_no_secrets_and_sigterm_drains_the_request_in_flight() {
    let db = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("GEREPORT_BIND", format!("127.0.0.1:{port}"))
        .env("GEREPORT_JWT_SECRET", JWT_SECRET)
        .env("GEREPORT_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let password = "a-secret-password-nobody-logs";
    let body = format!(r#"{{"username":"nobody","password":"{password}"}}"#);
    let reply = http(
        port,
        &format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer tok3n-that-must-not-leak\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");

    // A request whose body is half sent when SIGTERM arrives still gets its answer.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (head, tail) = body.split_at(body.len() / 2);
    slow.write_all(
        format!("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}", body.len())
            .as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    slow.write_all(tail.as_bytes()).unwrap();
    let mut reply = String::new();
    let _ = slow.read_to_string(&mut reply);
    assert!(
        reply.starts_with("HTTP/1.1 401"),
        "in-flight request lost: {reply:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");

    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("request finished"), "{logs}");
    for secret in [password, "tok3n-that-must-not-leak", JWT_SECRET] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
    assert!(!logs.to_lowercase().contains("authorization"), "{logs}");
}
