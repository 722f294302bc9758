//! Malformed protocol over raw TCP: broken start-up packets and broken
//! messages after start-up. Each must get an ErrorResponse and/or a closed
//! connection, never a hang, and the server must go on serving: after
//! every case a fresh connection runs a query.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::server::{Server, USER};

/// How long the server may take to answer or close.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

enum Reply {
    Message(u8, Vec<u8>),
    Closed,
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).expect("read timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// One backend message, or the connection's end.
fn read_reply(stream: &mut TcpStream, what: &str) -> Reply {
    let mut header = [0u8; 5];
    match stream.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("{what}: the server neither answered nor closed the connection in {ANSWER_TIMEOUT:?}")
        }
        Err(_) => return Reply::Closed,
    }
    let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    assert!((4..1 << 24).contains(&len), "{what}: bad length {len} from the server");
    let mut body = vec![0u8; len as usize - 4];
    match stream.read_exact(&mut body) {
        Ok(()) => Reply::Message(header[0], body),
        Err(_) => Reply::Closed,
    }
}

/// The SQLSTATE of an ErrorResponse body.
fn sqlstate(body: &[u8]) -> String {
    body.split(|b| *b == 0)
        .find(|field| field.first() == Some(&b'C'))
        .map(|field| String::from_utf8_lossy(&field[1..]).into_owned())
        .unwrap_or_default()
}

/// Read until an ErrorResponse (its SQLSTATE) or the end of the
/// connection (`None`); anything but notices and errors is a failure.
fn error_or_close(stream: &mut TcpStream, what: &str) -> Option<String> {
    loop {
        match read_reply(stream, what) {
            Reply::Closed => return None,
            Reply::Message(b'E', body) => return Some(sqlstate(&body)),
            Reply::Message(b'N', _) => continue,
            Reply::Message(tag, _) => panic!("{what}: expected an error or a close, got message {:?}", tag as char),
        }
    }
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn startup_packet() -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for (k, v) in [("user", USER), ("database", "thermocline")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// A connection past start-up (the server uses `trust`), ready for queries.
fn started(port: u16) -> TcpStream {
    let mut stream = connect(port);
    stream.write_all(&startup_packet()).expect("send start-up");
    wait_ready(&mut stream, "start-up");
    stream
}

/// Read up to ReadyForQuery; returns the DataRows' first fields and the
/// SQLSTATEs of errors seen on the way.
fn wait_ready(stream: &mut TcpStream, what: &str) -> (Vec<String>, Vec<String>) {
    let (mut values, mut errors) = (Vec::new(), Vec::new());
    loop {
        match read_reply(stream, what) {
            Reply::Closed => panic!("{what}: the server closed the connection"),
            Reply::Message(b'Z', _) => return (values, errors),
            Reply::Message(b'E', body) => errors.push(sqlstate(&body)),
            Reply::Message(b'D', body) => {
                let len = i32::from_be_bytes([body[2], body[3], body[4], body[5]]);
                values.push(String::from_utf8_lossy(&body[6..6 + len.max(0) as usize]).into_owned());
            }
            Reply::Message(_, _) => {}
        }
    }
}

fn query(stream: &mut TcpStream, sql: &str, what: &str) -> Vec<String> {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    stream.write_all(&message(b'Q', &body)).expect("send Query");
    let (values, errors) = wait_ready(stream, what);
    assert!(errors.is_empty(), "{what}: {sql} failed with {errors:?}");
    values
}

/// A normal client still gets answers.
fn assert_serving(server: &mut Server, after: &str) {
    assert!(server.is_running(), "the server exited after {after}\n{}", server.log());
    let mut stream = started(server.port);
    let values = query(&mut stream, "SELECT 40 + 2", &format!("a query after {after}"));
    assert_eq!(values, ["42"], "after {after}");
}

#[test]
fn malformed_startup_packets() {
    let mut server = Server::start();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a length below the minimum",
            [&3i32.to_be_bytes()[..], &[0, 3, 0, 0]].concat(),
        ),
        (
            "a negative length",
            [&(-8i32).to_be_bytes()[..], &[0, 3, 0, 0]].concat(),
        ),
        (
            "a huge length",
            [&i32::MAX.to_be_bytes()[..], &[0, 3, 0, 0, b'u', b's']].concat(),
        ),
        (
            "garbage (an HTTP request)",
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "protocol version 2",
            [&8i32.to_be_bytes()[..], &0x0002_0000i32.to_be_bytes()[..]].concat(),
        ),
        (
            "parameters without their terminator",
            [&17i32.to_be_bytes()[..], &196_608i32.to_be_bytes()[..], b"user\0thermo"].concat(),
        ),
        (
            "a start-up packet cut short, then silence",
            [&40i32.to_be_bytes()[..], &196_608i32.to_be_bytes()[..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        let mut stream = connect(server.port);
        let _ = stream.write_all(&bytes);
        if what.ends_with("then silence") {
            // The client is slow, not broken: the server may wait for the
            // rest; it must not stop anyone else meanwhile.
            assert_serving(&mut server, what);
            drop(stream);
            continue;
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let code = error_or_close(&mut stream, what);
        eprintln!("{what}: {}", code.as_deref().unwrap_or("closed"));
        assert_serving(&mut server, what);
    }
}

#[test]
fn malformed_messages_after_startup() {
    let mut server = Server::start();

    // Unknown message type, a Bind cut short inside its body, a negative
    // length: an error and/or a close. (pgwire's decoder accepts a Parse
    // missing its final terminator and parameter count, so that one is not
    // here.)
    let bind_cut_short = message(b'B', b"\0stmt");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an unknown message type", message(b'y', b"whatever")),
        ("a truncated Bind", bind_cut_short),
        (
            "a negative message length",
            [&[b'Q'][..], &(-1i32).to_be_bytes()[..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        let mut stream = started(server.port);
        stream.write_all(&bytes).expect("send");
        stream.write_all(&message(b'S', b"")).expect("send Sync");
        let code = error_or_close(&mut stream, what);
        eprintln!("{what}: {}", code.as_deref().unwrap_or("closed"));
        assert_serving(&mut server, what);
    }

    // Well-formed messages that refer to nothing: an error each, and the
    // same connection goes on after Sync.
    let mut stream = started(server.port);
    let mut wrong = Vec::new();
    let bind_unknown = message(b'B', b"\0no_such_statement\0\0\0\0\0\0\0");
    let execute_unknown = message(b'E', b"no_such_portal\0\0\0\0\0");
    let describe_unknown = message(b'D', b"Sno_such_statement\0");
    for (what, bytes, expected) in [
        ("Bind to an unknown statement", bind_unknown, "26000"),
        ("Execute without Bind", execute_unknown, "34000"),
        ("Describe of an unknown statement", describe_unknown, "26000"),
    ] {
        stream.write_all(&bytes).expect("send");
        stream.write_all(&message(b'S', b"")).expect("send Sync");
        let (_, errors) = wait_ready(&mut stream, what);
        if errors != [expected] {
            wrong.push(format!("{what}: expected SQLSTATE {expected}, got {errors:?}"));
        }
        let values = query(
            &mut stream,
            "SELECT 1 + 1",
            &format!("the same connection after {what}"),
        );
        assert_eq!(values, ["2"], "{what}");
    }
    assert_serving(&mut server, "the unknown statements and portals");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
