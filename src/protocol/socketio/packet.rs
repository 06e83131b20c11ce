//! Engine.IO v4 and Socket.IO v5 packets as they travel in WebSocket text
//! frames. Stateless: `parse_*` never panics and returns `DecodeError` for
//! anything malformed.
//!
//! Engine.IO: one digit type (`0` open, `1` close, `2` ping, `3` pong,
//! `4` message, `5` upgrade, `6` noop) and a payload. A message's payload
//! is a Socket.IO packet: type digit (`0` connect, `1` disconnect, `2`
//! event, `3` ack, `4` connect error, `5`/`6` binary), then optionally
//! `<n>-` attachments, `/nsp,`, an ack id, and JSON data.

use chatwire_protocol::DecodeError;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Engine<'a> {
    Open(OpenInfo),
    Close,
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    Upgrade,
    Noop,
}

/// The handshake data of an Engine.IO `open` packet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInfo {
    pub sid: String,
    #[serde(default = "default_ping_interval")]
    pub ping_interval: u64,
    #[serde(default = "default_ping_timeout")]
    pub ping_timeout: u64,
}

fn default_ping_interval() -> u64 {
    25_000
}

fn default_ping_timeout() -> u64 {
    20_000
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed(format!("Socket.IO: {what}"))
}

pub fn parse_engine(text: &str) -> Result<Engine<'_>, DecodeError> {
    let mut chars = text.chars();
    let kind = chars
        .next()
        .ok_or_else(|| malformed("empty Engine.IO packet"))?;
    let rest = chars.as_str();
    Ok(match kind {
        '0' => Engine::Open(
            serde_json::from_str(rest).map_err(|e| malformed(&format!("bad open packet: {e}")))?,
        ),
        '1' => Engine::Close,
        '2' => Engine::Ping(rest),
        '3' => Engine::Pong(rest),
        '4' => Engine::Message(rest),
        '5' => Engine::Upgrade,
        '6' => Engine::Noop,
        other => {
            return Err(malformed(&format!(
                "unknown Engine.IO packet type `{other}`"
            )))
        }
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum Socket {
    Connect {
        nsp: String,
        data: Option<Value>,
    },
    Disconnect {
        nsp: String,
    },
    Event {
        nsp: String,
        id: Option<u64>,
        name: String,
        args: Vec<Value>,
    },
    Ack {
        nsp: String,
        id: u64,
        args: Vec<Value>,
    },
    ConnectError {
        nsp: String,
        data: Option<Value>,
    },
}

pub fn parse_socket(text: &str) -> Result<Socket, DecodeError> {
    let bytes = text.as_bytes();
    let kind = *bytes
        .first()
        .ok_or_else(|| malformed("empty Socket.IO packet"))?;
    if !kind.is_ascii_digit() {
        return Err(malformed("a Socket.IO packet starts with a digit"));
    }
    let mut rest = &text[1..];
    if matches!(kind, b'5' | b'6') {
        return Err(malformed("binary events are not supported"));
    }
    let nsp = if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        let nsp = rest[..end].to_owned();
        rest = rest.get(end + 1..).unwrap_or("");
        nsp
    } else {
        "/".to_owned()
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        let id = rest[..digits]
            .parse::<u64>()
            .map_err(|_| malformed("ack id out of range"))?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };
    let data: Option<Value> = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_str(rest).map_err(|e| malformed(&format!("bad packet data: {e}")))?)
    };
    let array = |data: Option<Value>| match data {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(malformed("event data must be an array")),
    };
    Ok(match kind {
        b'0' => Socket::Connect { nsp, data },
        b'1' => Socket::Disconnect { nsp },
        b'2' => {
            let mut args = array(data)?;
            if args.is_empty() {
                return Err(malformed("event without a name"));
            }
            let Value::String(name) = args.remove(0) else {
                return Err(malformed("event name must be a string"));
            };
            Socket::Event {
                nsp,
                id,
                name,
                args,
            }
        }
        b'3' => Socket::Ack {
            nsp,
            id: id.ok_or_else(|| malformed("ack without id"))?,
            args: array(data)?,
        },
        b'4' => Socket::ConnectError { nsp, data },
        other => {
            return Err(malformed(&format!(
                "unknown Socket.IO packet type `{}`",
                char::from(other)
            )))
        }
    })
}

/// `40` (or `40{auth}`): connect to the default namespace.
pub fn connect(auth: Option<&Value>) -> String {
    match auth {
        Some(a) => format!("40{a}"),
        None => "40".to_owned(),
    }
}

/// `42["name",arg…]`: an event on the default namespace.
pub fn event(name: &str, args: &[Value]) -> String {
    let mut all = Vec::with_capacity(args.len() + 1);
    all.push(Value::String(name.to_owned()));
    all.extend_from_slice(args);
    format!("42{}", Value::Array(all))
}

/// `42["name",payload]` with the payload serialized as it is (field
/// order kept).
pub fn event_with<T: serde::Serialize>(name: &str, payload: &T) -> String {
    let name = Value::String(name.to_owned());
    let payload = serde_json::to_string(payload).unwrap_or_else(|_| "null".to_owned());
    format!("42[{name},{payload}]")
}

pub const PONG: &str = "3";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn engine_packets_parse() {
        let open = parse_engine(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#).unwrap();
        assert_eq!(
            open,
            Engine::Open(OpenInfo {
                sid: "abc".into(),
                ping_interval: 25000,
                ping_timeout: 20000
            })
        );
        assert_eq!(parse_engine("2").unwrap(), Engine::Ping(""));
        assert_eq!(parse_engine("3probe").unwrap(), Engine::Pong("probe"));
        assert_eq!(
            parse_engine("42[\"x\"]").unwrap(),
            Engine::Message("2[\"x\"]")
        );
        assert_eq!(parse_engine("1").unwrap(), Engine::Close);
        assert_eq!(parse_engine("6").unwrap(), Engine::Noop);
        assert!(parse_engine("").is_err());
        assert!(parse_engine("9").is_err());
        assert!(parse_engine("0{bad").is_err());
    }

    #[test]
    fn socket_packets_parse() {
        assert_eq!(
            parse_socket(r#"0{"sid":"s1"}"#).unwrap(),
            Socket::Connect {
                nsp: "/".into(),
                data: Some(json!({"sid":"s1"}))
            }
        );
        assert_eq!(
            parse_socket(r#"2["response",{"type":"partial","content":"春"}]"#).unwrap(),
            Socket::Event {
                nsp: "/".into(),
                id: None,
                name: "response".into(),
                args: vec![json!({"type":"partial","content":"春"})]
            }
        );
        assert_eq!(
            parse_socket(r#"2/admin,12["pong"]"#).unwrap(),
            Socket::Event {
                nsp: "/admin".into(),
                id: Some(12),
                name: "pong".into(),
                args: vec![]
            }
        );
        assert_eq!(
            parse_socket(r#"4{"message":"Not authorized"}"#).unwrap(),
            Socket::ConnectError {
                nsp: "/".into(),
                data: Some(json!({"message":"Not authorized"}))
            }
        );
        assert_eq!(
            parse_socket("1").unwrap(),
            Socket::Disconnect { nsp: "/".into() }
        );
        assert_eq!(
            parse_socket("35[1]").unwrap(),
            Socket::Ack {
                nsp: "/".into(),
                id: 5,
                args: vec![json!(1)]
            }
        );
        for bad in [
            "",
            "2",
            "2{}",
            "2[]",
            "2[1]",
            "51-[\"x\",{\"_placeholder\":true,\"num\":0}]",
            "7",
            "2[\"x\"",
            "3[1]",
            "299999999999999999999[\"x\"]",
        ] {
            assert!(parse_socket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoders() {
        assert_eq!(connect(None), "40");
        assert_eq!(connect(Some(&json!({"token":"t"}))), r#"40{"token":"t"}"#);
        assert_eq!(
            event("message", &[json!({"text":"hi"})]),
            r#"42["message",{"text":"hi"}]"#
        );
        #[derive(serde::Serialize)]
        struct P<'a> {
            text: &'a str,
            image: Option<&'a str>,
        }
        assert_eq!(
            event_with(
                "message",
                &P {
                    text: "hi \"x\"",
                    image: None
                }
            ),
            r#"42["message",{"text":"hi \"x\"","image":null}]"#
        );
        assert_eq!(event("ping", &[]), r#"42["ping"]"#);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = parse_engine(&s);
            let _ = parse_socket(&s);
        }

        #[test]
        fn parsers_never_panic_on_near_packets(
            head in "[0-6]{1,2}(/[a-z]{0,3},)?[0-9]{0,3}",
            body in "[\\[\\]{}\",:a-z0-9 ]{0,40}"
        ) {
            let s = format!("{head}{body}");
            let _ = parse_engine(&s);
            let _ = parse_socket(&s);
        }
    }
}
