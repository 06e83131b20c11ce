//! Runtime configuration from the page's URL query: `backend`, `protocol`,
//! `lang`. Pure: the page location comes in as a value, so every rule is
//! unit-tested natively.

use std::fmt;

/// Where the page was loaded from (what `backend` resolves against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLocation {
    /// `http`, `https` or `file`, without the colon.
    pub scheme: String,
    /// `host[:port]`; empty for `file:` pages.
    pub host: String,
    /// Path of the page, starting with `/`.
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// chatwire's own protocol (docs/protocol.md).
    Native,
    /// Seed 000: FastAPI, JSON turn with history, raw text back.
    Qwen,
    /// Seed 001: Flask-SocketIO, `message`/`response` events.
    SocketIo,
    /// Seed 002: Spring Boot, `modelType` + `message`, raw text back.
    Nexlm,
    /// Seed 003: FastAPI with server-side sessions and statuses.
    Session,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Native,
        Protocol::Qwen,
        Protocol::SocketIo,
        Protocol::Nexlm,
        Protocol::Session,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Native => "native",
            Protocol::Qwen => "qwen",
            Protocol::SocketIo => "socketio",
            Protocol::Nexlm => "nexlm",
            Protocol::Session => "session",
        }
    }

    /// The model choices offered when the configuration names none.
    pub fn default_models(self) -> Vec<String> {
        let list: &[&str] = match self {
            Protocol::Nexlm => crate::protocol::nexlm::DEFAULT_MODELS,
            Protocol::Session => crate::protocol::session::DEFAULT_MODELS,
            _ => &[],
        };
        list.iter().map(|s| (*s).to_owned()).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// Accepts `en`, `zh` and regional forms such as `zh-CN`.
    pub fn parse(s: &str) -> Option<Self> {
        let primary = s
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// Absolute `ws://` or `wss://` URL of the backend.
    pub backend: String,
    pub protocol: Protocol,
    pub lang: Lang,
    /// Model choices (`models=a,b,c`); the dialect's defaults when empty.
    pub models: Vec<String>,
    /// Silence that ends a reply where the dialect has no end marker.
    pub silence_ms: u64,
    /// Earlier messages sent as history (dialects that send it).
    pub history_window: usize,
    /// Largest image that may be attached (dialects that take images).
    pub image_max_bytes: usize,
}

pub const IMAGE_MAX_KB: std::ops::RangeInclusive<usize> = 1..=100_000;

pub const DEFAULT_SILENCE_MS: u64 = 2_000;
pub const SILENCE_MS: std::ops::RangeInclusive<u64> = 100..=120_000;
pub const DEFAULT_HISTORY_WINDOW: usize = 6;
pub const HISTORY_WINDOW: std::ops::RangeInclusive<usize> = 0..=1_000;

pub fn parse_in<T: std::str::FromStr + PartialOrd + fmt::Display>(
    value: &str,
    range: &std::ops::RangeInclusive<T>,
) -> Result<T, String> {
    match value.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!(
            "must be a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// A configuration problem, shown on the page. `fatal` ones stop the app
/// from connecting; others fall back to the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub param: &'static str,
    pub value: String,
    pub reason: String,
    pub fatal: bool,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}={}`: {}", self.param, self.value, self.reason)
    }
}

pub const DEFAULT_BACKEND: &str = "/ws";

/// Splits a query string (with or without `?`) into decoded pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (as a space); invalid escapes stay as they
/// are, invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ws_scheme_for_page(page: &PageLocation) -> &'static str {
    if page.scheme == "https" {
        "wss"
    } else {
        "ws"
    }
}

/// Joins a relative path to the directory of `base`, resolving `.` and `..`.
fn join_path(base: &str, rel: &str) -> String {
    let mut segments: Vec<&str> = base.split('/').collect();
    segments.pop(); // the page's own file name (or the empty tail of `dir/`)
    for seg in rel.split('/') {
        match seg {
            "." => {}
            ".." => {
                if segments.len() > 1 {
                    segments.pop();
                }
            }
            s => segments.push(s),
        }
    }
    let joined = segments.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

fn check_authority(authority: &str) -> Result<(), String> {
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    if authority.contains('@') {
        return Err("credentials in the URL are not supported; use a token parameter".into());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, tail) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in an IPv6 host".to_string())?;
        if h.is_empty()
            || !h
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("`[{h}]` is not an IPv6 address"));
        }
        (h, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
    {
        return Err(format!("`{host}` is not a valid host name"));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err(format!("`{p}` is not a valid port"));
        }
    }
    Ok(())
}

/// Turns the `backend` parameter into an absolute WebSocket URL.
///
/// Accepted: `ws://…` and `wss://…`; `http://…`/`https://…` (mapped to
/// ws/wss); `//host/path` (scheme from the page); `/path` (the page's host);
/// a relative path (against the page's directory).
pub fn resolve_backend(raw: &str, page: &PageLocation) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty URL".into());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains spaces or control characters".into());
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, rest)) if !s.contains('/') => {
            let scheme = match s.to_ascii_lowercase().as_str() {
                "ws" | "http" => "ws",
                "wss" | "https" => "wss",
                other => return Err(format!("unsupported scheme `{other}`; use ws:// or wss://")),
            };
            (scheme, rest)
        }
        _ => {
            if let Some((s, _)) = raw.split_once(':') {
                if !s.is_empty() && !s.contains('/') && s.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(format!("unsupported scheme `{s}`; use ws:// or wss://"));
                }
            }
            if page.host.is_empty() {
                return Err(format!(
                    "cannot resolve `{raw}` against a {}: page; give a full ws:// URL",
                    page.scheme
                ));
            }
            let scheme = ws_scheme_for_page(page);
            if let Some(rest) = raw.strip_prefix("//") {
                (scheme, rest)
            } else if raw.starts_with('/') {
                return Ok(format!("{scheme}://{}{raw}", page.host));
            } else {
                let path = join_path(&page.path, raw);
                return Ok(format!("{scheme}://{}{path}", page.host));
            }
        }
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    check_authority(authority)?;
    if tail.contains('#') {
        return Err("a WebSocket URL cannot have a #fragment".into());
    }
    let tail = if tail.is_empty() { "/" } else { tail };
    Ok(format!("{scheme}://{authority}{tail}"))
}

impl AppConfig {
    /// Reads the configuration from the query string. Always returns a
    /// usable configuration (defaults where a value is bad) and the
    /// problems found; a bad `backend` is fatal (the app must not connect
    /// somewhere the user did not mean).
    pub fn from_query(query: &str, page: &PageLocation) -> (Self, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let mut backend = None;
        let mut protocol = Protocol::Native;
        let mut lang = Lang::En;
        let mut models = Vec::new();
        let mut silence_ms = DEFAULT_SILENCE_MS;
        let mut history_window = DEFAULT_HISTORY_WINDOW;
        let mut image_max_bytes = crate::attachment::DEFAULT_MAX_BYTES;
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "backend" => match resolve_backend(&value, page) {
                    Ok(url) => backend = Some(url),
                    Err(reason) => errors.push(ConfigError {
                        param: "backend",
                        value,
                        reason,
                        fatal: true,
                    }),
                },
                "protocol" => match Protocol::parse(&value) {
                    Some(p) => protocol = p,
                    None => errors.push(ConfigError {
                        param: "protocol",
                        value,
                        reason:
                            "unknown protocol; supported: native, qwen, socketio, nexlm, session"
                                .into(),
                        fatal: true,
                    }),
                },
                "lang" => match Lang::parse(&value) {
                    Some(l) => lang = l,
                    None => errors.push(ConfigError {
                        param: "lang",
                        value,
                        reason: "unknown language; supported: en, zh (using en)".into(),
                        fatal: false,
                    }),
                },
                "models" => {
                    models = value
                        .split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "silence_ms" => match parse_in(&value, &SILENCE_MS) {
                    Ok(v) => silence_ms = v,
                    Err(reason) => errors.push(ConfigError {
                        param: "silence_ms",
                        value,
                        reason,
                        fatal: false,
                    }),
                },
                "image_max_kb" => match parse_in(&value, &IMAGE_MAX_KB) {
                    Ok(v) => image_max_bytes = v * 1024,
                    Err(reason) => errors.push(ConfigError {
                        param: "image_max_kb",
                        value,
                        reason,
                        fatal: false,
                    }),
                },
                "history" => match parse_in(&value, &HISTORY_WINDOW) {
                    Ok(v) => history_window = v,
                    Err(reason) => errors.push(ConfigError {
                        param: "history",
                        value,
                        reason,
                        fatal: false,
                    }),
                },
                _ => {}
            }
        }
        if models.is_empty() {
            models = protocol.default_models();
        }
        let backend = backend.unwrap_or_else(|| {
            resolve_backend(DEFAULT_BACKEND, page)
                .unwrap_or_else(|_| format!("ws://127.0.0.1:8080{DEFAULT_BACKEND}"))
        });
        (
            Self {
                backend,
                protocol,
                lang,
                models,
                silence_ms,
                history_window,
                image_max_bytes,
            },
            errors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(scheme: &str, host: &str, path: &str) -> PageLocation {
        PageLocation {
            scheme: scheme.into(),
            host: host.into(),
            path: path.into(),
        }
    }

    fn http() -> PageLocation {
        page("http", "127.0.0.1:8080", "/")
    }

    #[test]
    fn default_is_same_origin_ws() {
        let (c, errs) = AppConfig::from_query("", &http());
        assert!(errs.is_empty());
        assert_eq!(c.backend, "ws://127.0.0.1:8080/ws");
        assert_eq!(c.protocol, Protocol::Native);
        assert_eq!(c.lang, Lang::En);
        let (c, _) = AppConfig::from_query("", &page("https", "chat.example", "/app/"));
        assert_eq!(c.backend, "wss://chat.example/ws");
    }

    #[test]
    fn absolute_and_relative_backends_resolve() {
        let p = page("https", "wiki.corp:8443", "/tools/chat/index.html");
        let r = |s| resolve_backend(s, &p);
        assert_eq!(r("ws://10.0.0.5:7860/ws").unwrap(), "ws://10.0.0.5:7860/ws");
        assert_eq!(r("wss://h/a?x=1").unwrap(), "wss://h/a?x=1");
        assert_eq!(r("WS://h:1").unwrap(), "ws://h:1/");
        assert_eq!(r("https://h/ws").unwrap(), "wss://h/ws");
        assert_eq!(r("//other:9000/ws").unwrap(), "wss://other:9000/ws");
        assert_eq!(r("/ws").unwrap(), "wss://wiki.corp:8443/ws");
        assert_eq!(r("ws").unwrap(), "wss://wiki.corp:8443/tools/chat/ws");
        assert_eq!(r("../api/ws").unwrap(), "wss://wiki.corp:8443/tools/api/ws");
        assert_eq!(r("ws://[::1]:8080/ws").unwrap(), "ws://[::1]:8080/ws");
        assert_eq!(
            r("ws://localhost:8011/ws/chat").unwrap(),
            "ws://localhost:8011/ws/chat"
        );
    }

    #[test]
    fn malformed_backends_are_rejected_with_reasons() {
        let p = http();
        let r = |s| resolve_backend(s, &p).unwrap_err();
        assert!(r("ftp://h/x").contains("unsupported scheme"));
        assert!(r("javascript:alert(1)").contains("unsupported scheme"));
        assert!(r("ws://").contains("no host"));
        assert!(r("ws://h:99999/x").contains("not a valid port"));
        assert!(r("ws://h:0/x").contains("not a valid port"));
        assert!(r("ws://bad host/x").contains("spaces"));
        assert!(r("ws://user:pw@h/x").contains("credentials"));
        assert!(r("ws://h/x#frag").contains("fragment"));
        assert!(r("ws://[zz]/x").contains("IPv6"));
        assert!(r("ws://h$x/").contains("host name"));
        assert!(r("").contains("empty"));
        assert!(resolve_backend("/ws", &page("file", "", "/tmp/index.html"))
            .unwrap_err()
            .contains("file: page"));
    }

    #[test]
    fn query_parameters_are_decoded_and_errors_reported() {
        let q = "?backend=ws%3A%2F%2Fexample.org%3A7860%2Fws&lang=zh-CN&x=1";
        let (c, errs) = AppConfig::from_query(q, &http());
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.backend, "ws://example.org:7860/ws");
        assert_eq!(c.lang, Lang::Zh);

        let (c, errs) = AppConfig::from_query("backend=ftp://x&lang=xx&protocol=smoke", &http());
        assert_eq!(errs.len(), 3);
        assert!(errs[0].fatal && errs[0].param == "backend");
        assert!(!errs[1].fatal && errs[1].param == "lang");
        assert!(errs[2].fatal && errs[2].param == "protocol");
        assert_eq!(c.lang, Lang::En);
        assert!(errs[0].to_string().contains("ftp://x"));
    }

    #[test]
    fn dialect_parameters() {
        let (c, errs) = AppConfig::from_query(
            "protocol=nexlm&backend=ws://h:8080/api/ai/chat/websocket&silence_ms=3500&history=10",
            &http(),
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.protocol, Protocol::Nexlm);
        assert_eq!(c.models, vec!["chatgpt", "deepseek", "local"]);
        assert_eq!((c.silence_ms, c.history_window), (3500, 10));
        let (c, _) = AppConfig::from_query(
            "protocol=session&models=a,%20b,,c&image_max_kb=100",
            &http(),
        );
        assert_eq!(c.models, vec!["a", "b", "c"]);
        assert_eq!(c.image_max_bytes, 102_400);
        let (c, errs) = AppConfig::from_query("silence_ms=5&history=x", &http());
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| !e.fatal));
        assert_eq!(
            (c.silence_ms, c.history_window),
            (DEFAULT_SILENCE_MS, DEFAULT_HISTORY_WINDOW)
        );
        for p in Protocol::ALL {
            assert_eq!(Protocol::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a+b%20c"), "a b c");
        assert_eq!(percent_decode("%E4%BD%A0"), "你");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
