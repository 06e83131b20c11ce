//! Runtime configuration: `config.json` next to `index.html` (optional),
//! overridden by the page's URL query (docs/configuration.md). Pure: the
//! file's text, the query and the page location come in as values, so
//! every rule is unit-tested natively.

use std::fmt;

use crate::i18n::tr;
use crate::params::{Field, ParamInputs, ParamLimits};

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

/// Light or dark colours; `Auto` follows the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "system" => Some(Theme::Auto),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// How a backend that needs a token gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVia {
    /// Appended to the socket URL as `?<param>=<token>`.
    Query(String),
    /// Offered as the WebSocket subprotocol.
    Subprotocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub token: String,
    pub via: AuthVia,
}

#[derive(Debug, Clone, PartialEq)]
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
    /// Shown in the header and the tab title.
    pub title: String,
    /// A short mark shown before the title (initials, an emoji).
    pub logo: Option<String>,
    pub theme: Theme,
    /// Compact layout for an iframe (`embed=1`).
    pub embed: bool,
    /// The parameter controls' defaults (when nothing is stored) and ranges.
    pub param_defaults: ParamInputs,
    pub param_limits: ParamLimits,
    pub auth: Option<Auth>,
}

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `config.json` next to `index.html`.
    File,
    /// The page's URL query (overrides the file).
    Url,
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
        _ => Err(trf!(
            "must be a whole number from {} to {}",
            "须为 {} 到 {} 之间的整数",
            range.start(),
            range.end()
        )),
    }
}

/// A configuration problem, shown on the page. `fatal` ones stop the app
/// from connecting; others fall back to the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub param: String,
    pub value: String,
    pub reason: String,
    pub fatal: bool,
    pub source: Source,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            Source::Url => write!(f, "`{}={}`: {}", self.param, self.value, self.reason),
            Source::File if self.param == "(file)" => write!(f, "config.json: {}", self.reason),
            Source::File if self.value.is_empty() => {
                write!(f, "config.json, `{}`: {}", self.param, self.reason)
            }
            Source::File => write!(
                f,
                "config.json, `{}` = {}: {}",
                self.param, self.value, self.reason
            ),
        }
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
        return Err(tr("the URL has no host", "URL 中没有主机").into());
    }
    if authority.contains('@') {
        return Err(tr(
            "credentials in the URL are not supported; use a token parameter",
            "不支持在 URL 中写用户名和密码；请使用 token 参数",
        )
        .into());
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
            return Err(trf!(
                "`[{h}]` is not an IPv6 address",
                "`[{h}]` 不是 IPv6 地址"
            ));
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
        return Err(trf!(
            "`{host}` is not a valid host name",
            "`{host}` 不是有效的主机名"
        ));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err(trf!("`{p}` is not a valid port", "`{p}` 不是有效的端口"));
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
        return Err(tr("empty URL", "URL 为空").into());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(tr(
            "the URL contains spaces or control characters",
            "URL 中含有空格或控制字符",
        )
        .into());
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, rest)) if !s.contains('/') => {
            let scheme = match s.to_ascii_lowercase().as_str() {
                "ws" | "http" => "ws",
                "wss" | "https" => "wss",
                other => {
                    return Err(trf!(
                        "unsupported scheme `{other}`; use ws:// or wss://",
                        "不支持的协议 `{other}`；请使用 ws:// 或 wss://"
                    ))
                }
            };
            (scheme, rest)
        }
        _ => {
            if let Some((s, _)) = raw.split_once(':') {
                if !s.is_empty() && !s.contains('/') && s.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(trf!(
                        "unsupported scheme `{s}`; use ws:// or wss://",
                        "不支持的协议 `{s}`；请使用 ws:// 或 wss://"
                    ));
                }
            }
            if page.host.is_empty() {
                return Err(trf!(
                    "cannot resolve `{raw}` against a {}: page; give a full ws:// URL",
                    "无法相对 {}: 页面解析 `{raw}`；请给出完整的 ws:// URL",
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
        return Err(tr(
            "a WebSocket URL cannot have a #fragment",
            "WebSocket URL 不能带 #片段",
        )
        .into());
    }
    let tail = if tail.is_empty() { "/" } else { tail };
    Ok(format!("{scheme}://{authority}{tail}"))
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            backend: format!("ws://127.0.0.1:8080{DEFAULT_BACKEND}"),
            protocol: Protocol::Native,
            lang: Lang::En,
            models: Vec::new(),
            silence_ms: DEFAULT_SILENCE_MS,
            history_window: DEFAULT_HISTORY_WINDOW,
            image_max_bytes: crate::attachment::DEFAULT_MAX_BYTES,
            title: DEFAULT_TITLE.into(),
            logo: None,
            theme: Theme::Auto,
            embed: false,
            param_defaults: ParamInputs::default(),
            param_limits: ParamLimits::default(),
            auth: None,
        }
    }
}

pub const DEFAULT_TITLE: &str = "chatwire";
const TITLE_MAX_CHARS: usize = 80;
const LOGO_MAX_CHARS: usize = 8;

/// The fields `config.json` may have (docs/configuration.md).
const FILE_FIELDS: &[&str] = &[
    "backend",
    "protocol",
    "lang",
    "models",
    "silence_ms",
    "history",
    "image_max_kb",
    "title",
    "logo",
    "theme",
    "embed",
    "params",
    "auth",
];

/// Builds the configuration from its sources, in order, collecting
/// problems.
struct Builder<'a> {
    page: &'a PageLocation,
    config: AppConfig,
    backend: Option<String>,
    lang: Option<Lang>,
    /// `models` was given (an empty list: the model is typed freely).
    models_set: bool,
    token: Option<String>,
    auth_via: AuthVia,
    errors: Vec<ConfigError>,
}

impl Builder<'_> {
    fn error(&mut self, source: Source, param: &str, value: &str, reason: String, fatal: bool) {
        self.errors.push(ConfigError {
            param: param.to_owned(),
            value: value.to_owned(),
            reason,
            fatal,
            source,
        });
    }

    /// One `key=value` setting (a URL parameter, or a file field written
    /// as text). Unknown keys are left to the caller.
    fn set(&mut self, source: Source, key: &str, value: String) -> bool {
        match key {
            "backend" => match resolve_backend(&value, self.page) {
                Ok(url) => self.backend = Some(url),
                Err(reason) => self.error(source, "backend", &value, reason, true),
            },
            "protocol" => match Protocol::parse(&value) {
                Some(p) => self.config.protocol = p,
                None => self.error(
                    source,
                    "protocol",
                    &value,
                    tr(
                        "unknown protocol; supported: native, qwen, socketio, nexlm, session",
                        "未知协议；支持：native、qwen、socketio、nexlm、session",
                    )
                    .into(),
                    true,
                ),
            },
            "lang" => match Lang::parse(&value) {
                Some(l) => self.lang = Some(l),
                None => self.error(
                    source,
                    "lang",
                    &value,
                    tr(
                        "unknown language; supported: en, zh (using the browser's)",
                        "未知语言；支持：en、zh（使用浏览器的语言）",
                    )
                    .into(),
                    false,
                ),
            },
            "models" => {
                self.models_set = true;
                self.config.models = value
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "silence_ms" => match parse_in(&value, &SILENCE_MS) {
                Ok(v) => self.config.silence_ms = v,
                Err(reason) => self.error(source, "silence_ms", &value, reason, false),
            },
            "image_max_kb" => match parse_in(&value, &IMAGE_MAX_KB) {
                Ok(v) => self.config.image_max_bytes = v * 1024,
                Err(reason) => self.error(source, "image_max_kb", &value, reason, false),
            },
            "history" => match parse_in(&value, &HISTORY_WINDOW) {
                Ok(v) => self.config.history_window = v,
                Err(reason) => self.error(source, "history", &value, reason, false),
            },
            "title" => {
                let t = value.trim();
                if t.is_empty() || t.chars().count() > TITLE_MAX_CHARS {
                    self.error(
                        source,
                        "title",
                        &value,
                        trf!(
                            "must be 1 to {TITLE_MAX_CHARS} characters",
                            "须为 1 到 {TITLE_MAX_CHARS} 个字符"
                        ),
                        false,
                    );
                } else {
                    self.config.title = t.to_owned();
                }
            }
            "logo" => {
                let t = value.trim();
                if t.chars().count() > LOGO_MAX_CHARS {
                    self.error(
                        source,
                        "logo",
                        &value,
                        trf!(
                            "at most {LOGO_MAX_CHARS} characters (text, not a URL)",
                            "最多 {LOGO_MAX_CHARS} 个字符（文字，不是 URL）"
                        ),
                        false,
                    );
                } else {
                    self.config.logo = (!t.is_empty()).then(|| t.to_owned());
                }
            }
            "theme" => match Theme::parse(&value) {
                Some(t) => self.config.theme = t,
                None => self.error(
                    source,
                    "theme",
                    &value,
                    tr("one of auto, light, dark", "须为 auto、light、dark 之一").into(),
                    false,
                ),
            },
            "embed" => match value.trim() {
                "1" | "true" | "" => self.config.embed = true,
                "0" | "false" => self.config.embed = false,
                _ => self.error(
                    source,
                    "embed",
                    &value,
                    tr("1 or 0", "须为 1 或 0").into(),
                    false,
                ),
            },
            "token" => self.token = (!value.is_empty()).then_some(value),
            _ => {
                let Some(field) = Field::ALL.into_iter().find(|f| f.key() == key) else {
                    return false;
                };
                self.param_default(source, field, &value);
            }
        }
        true
    }

    /// A parameter's default, checked against its (configured) range.
    fn param_default(&mut self, source: Source, field: Field, value: &str) {
        let param = match source {
            Source::Url => field.key().to_owned(),
            Source::File => format!("params.{}.default", field.key()),
        };
        let mut trial = self.config.param_defaults.clone();
        field.set(&mut trial, value.trim().to_owned());
        match field.problem(&trial, &self.config.param_limits) {
            None => self.config.param_defaults = trial,
            Some(e) => self.error(source, &param, value, trf!("must be {e}", "须为{e}"), false),
        }
    }

    fn file(&mut self, text: &str) {
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return self.error(
                    Source::File,
                    "(file)",
                    "",
                    trf!(
                        "not valid JSON ({e}); using the defaults",
                        "不是有效的 JSON（{e}）；使用默认设置"
                    ),
                    false,
                )
            }
        };
        let Some(object) = value.as_object() else {
            return self.error(
                Source::File,
                "(file)",
                "",
                tr(
                    "must be a JSON object; using the defaults",
                    "须为 JSON 对象；使用默认设置",
                )
                .into(),
                false,
            );
        };
        for (key, v) in object {
            match (key.as_str(), v) {
                ("params", v) => self.file_params(v),
                ("auth", v) => self.file_auth(v),
                ("models", serde_json::Value::Array(list)) => {
                    let names: Option<Vec<&str>> = list.iter().map(|m| m.as_str()).collect();
                    match names {
                        Some(names) => {
                            self.set(Source::File, "models", names.join(","));
                        }
                        None => self.error(
                            Source::File,
                            "models",
                            &v.to_string(),
                            tr("must be a list of model names", "须为模型名称列表").into(),
                            false,
                        ),
                    }
                }
                (k, _) if !FILE_FIELDS.contains(&k) => self.error(
                    Source::File,
                    k,
                    "",
                    trf!(
                        "unknown field (ignored); known: {}",
                        "未知字段（已忽略）；可用字段：{}",
                        FILE_FIELDS.join(", ")
                    ),
                    false,
                ),
                (k, serde_json::Value::String(s)) => {
                    self.set(Source::File, k, s.clone());
                }
                (k, serde_json::Value::Number(n)) => {
                    self.set(Source::File, k, n.to_string());
                }
                ("embed", serde_json::Value::Bool(b)) => {
                    self.set(Source::File, "embed", b.to_string());
                }
                (k, other) => self.error(
                    Source::File,
                    k,
                    &other.to_string(),
                    tr("wrong type", "类型错误").into(),
                    false,
                ),
            }
        }
    }

    /// `"params": {"temperature": 0.5, "top_p": {"default": 0.9, "min": 0.5, "max": 1}}`
    fn file_params(&mut self, v: &serde_json::Value) {
        let Some(object) = v.as_object() else {
            return self.error(
                Source::File,
                "params",
                &v.to_string(),
                tr("must be an object of parameters", "须为参数对象").into(),
                false,
            );
        };
        for (key, v) in object {
            let Some(field) = Field::ALL.into_iter().find(|f| f.key() == key) else {
                self.error(
                    Source::File,
                    &format!("params.{key}"),
                    "",
                    tr(
                        "unknown parameter (ignored); known: temperature, top_p, max_tokens, repetition_penalty",
                        "未知参数（已忽略）；可用参数：temperature、top_p、max_tokens、repetition_penalty",
                    )
                    .into(),
                    false,
                );
                continue;
            };
            let (default, min, max) = match v {
                serde_json::Value::Object(o) => (
                    o.get("default").cloned(),
                    o.get("min").cloned(),
                    o.get("max").cloned(),
                ),
                other => (Some(other.clone()), None, None),
            };
            let number = |this: &mut Self, what: &str, v: Option<serde_json::Value>| {
                let v = v?;
                match v.as_f64() {
                    Some(n) => Some(n),
                    None => {
                        this.error(
                            Source::File,
                            &format!("params.{key}.{what}"),
                            &v.to_string(),
                            tr("must be a number", "须为数字").into(),
                            false,
                        );
                        None
                    }
                }
            };
            let min_v = number(self, "min", min);
            let max_v = number(self, "max", max);
            if min_v.is_some() || max_v.is_some() {
                let allowed = field.protocol_range();
                let lo = min_v.unwrap_or(*allowed.start());
                let hi = max_v.unwrap_or(*allowed.end());
                let whole = field != Field::MaxTokens || (lo.fract() == 0.0 && hi.fract() == 0.0);
                if lo <= hi && allowed.contains(&lo) && allowed.contains(&hi) && whole {
                    field.set_range(&mut self.config.param_limits, lo, hi);
                    // A default the new range refuses falls back to the
                    // range's nearest end.
                    let current = field.get(&self.config.param_defaults).to_owned();
                    if !current.is_empty()
                        && field
                            .problem(&self.config.param_defaults, &self.config.param_limits)
                            .is_some()
                    {
                        let clamped = crate::decimal::parse(current.trim())
                            .map(|c| c.clamp(lo, hi))
                            .unwrap_or(lo);
                        field.set(&mut self.config.param_defaults, clamped.to_string());
                    }
                } else {
                    self.error(
                        Source::File,
                        &format!("params.{key}"),
                        &format!("{lo}..{hi}"),
                        trf!(
                            "the range must lie within {}–{} with min ≤ max{}",
                            "范围须在 {}–{} 之内且 min ≤ max{}",
                            allowed.start(),
                            allowed.end(),
                            if field == Field::MaxTokens {
                                tr(", whole numbers", "，且为整数")
                            } else {
                                ""
                            }
                        ),
                        false,
                    );
                }
            }
            match default {
                Some(serde_json::Value::Null) if field.optional() => {
                    field.set(&mut self.config.param_defaults, String::new())
                }
                Some(d) => match d.as_f64() {
                    Some(n) => self.param_default(Source::File, field, &n.to_string()),
                    None => self.error(
                        Source::File,
                        &format!("params.{key}.default"),
                        &d.to_string(),
                        tr("must be a number", "须为数字").into(),
                        false,
                    ),
                },
                None => {}
            }
        }
    }

    /// `"auth": {"token": "…", "via": "query" | "subprotocol", "param": "token"}`
    fn file_auth(&mut self, v: &serde_json::Value) {
        let Some(o) = v.as_object() else {
            return self.error(
                Source::File,
                "auth",
                &v.to_string(),
                tr(
                    "must be an object {token, via, param}",
                    "须为对象 {token, via, param}",
                )
                .into(),
                false,
            );
        };
        if let Some(t) = o.get("token") {
            match t.as_str() {
                Some(t) => self.token = (!t.is_empty()).then(|| t.to_owned()),
                None => self.error(
                    Source::File,
                    "auth.token",
                    "",
                    tr("must be a string", "须为字符串").into(),
                    false,
                ),
            }
        }
        let param = o
            .get("param")
            .and_then(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("token")
            .to_owned();
        match o.get("via").and_then(|v| v.as_str()).unwrap_or("query") {
            "query" => self.auth_via = AuthVia::Query(param),
            "subprotocol" => self.auth_via = AuthVia::Subprotocol,
            other => self.error(
                Source::File,
                "auth.via",
                other,
                tr("one of query, subprotocol", "须为 query 或 subprotocol").into(),
                false,
            ),
        }
    }

    fn finish(mut self, browser_lang: Option<&str>) -> (AppConfig, Vec<ConfigError>) {
        let c = &mut self.config;
        if c.models.is_empty() && !self.models_set {
            c.models = c.protocol.default_models();
        }
        c.backend = self.backend.take().unwrap_or_else(|| {
            resolve_backend(DEFAULT_BACKEND, self.page)
                .unwrap_or_else(|_| format!("ws://127.0.0.1:8080{DEFAULT_BACKEND}"))
        });
        c.lang = self
            .lang
            .or_else(|| browser_lang.and_then(Lang::parse))
            .unwrap_or(Lang::En);
        c.auth = self.token.take().map(|token| Auth {
            token,
            via: self.auth_via.clone(),
        });
        (self.config, self.errors)
    }
}

impl AppConfig {
    /// Reads the configuration from the query string alone (as when there
    /// is no `config.json`).
    #[cfg(test)]
    pub fn from_query(query: &str, page: &PageLocation) -> (Self, Vec<ConfigError>) {
        Self::resolve(None, query, page, None)
    }

    /// The configuration from `config.json` (its text, if the page has
    /// one), overridden by the URL query; `lang` falls back to the
    /// browser's language. Always returns a usable configuration (defaults
    /// where a value is bad) and the problems found, each naming its field;
    /// a bad `backend` or `protocol` is fatal (the app must not connect
    /// somewhere the user did not mean).
    pub fn resolve(
        file: Option<&str>,
        query: &str,
        page: &PageLocation,
        browser_lang: Option<&str>,
    ) -> (Self, Vec<ConfigError>) {
        let mut b = Builder {
            page,
            config: AppConfig::default(),
            backend: None,
            lang: None,
            models_set: false,
            token: None,
            auth_via: AuthVia::Query("token".into()),
            errors: Vec::new(),
        };
        if let Some(text) = file {
            b.file(text);
        }
        for (key, value) in parse_query(query) {
            b.set(Source::Url, &key, value);
        }
        b.finish(browser_lang)
    }

    /// Where and how to connect.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            base: self.backend.clone(),
            auth: self.auth.clone(),
        }
    }
}

/// The backend's address and the token it needs, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub base: String,
    pub auth: Option<Auth>,
}

impl Endpoint {
    /// The dialect's socket URL with the token added when it goes in the
    /// query.
    pub fn url(&self, socket_url: String) -> String {
        match &self.auth {
            Some(Auth {
                token,
                via: AuthVia::Query(param),
            }) => {
                let sep = if socket_url.contains('?') { '&' } else { '?' };
                format!(
                    "{socket_url}{sep}{}={}",
                    percent_encode(param),
                    percent_encode(token)
                )
            }
            _ => socket_url,
        }
    }

    /// The WebSocket subprotocol to offer, when the token goes there.
    pub fn subprotocol(&self) -> Option<&str> {
        match &self.auth {
            Some(Auth {
                token,
                via: AuthVia::Subprotocol,
            }) => Some(token),
            _ => None,
        }
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    fn config_file_then_url_overrides() {
        let file = r#"{
            "backend": "ws://llm.corp:8011/ws/chat",
            "protocol": "session",
            "models": ["qwen3-max", "qwen-plus"],
            "title": "Team chat", "logo": "TC", "lang": "zh", "theme": "dark",
            "history": 4, "silence_ms": 1500, "embed": true,
            "params": {
                "temperature": {"default": 0.3, "min": 0, "max": 1},
                "max_tokens": 256,
                "repetition_penalty": {"default": 1.1}
            },
            "auth": {"token": "s3cr&t", "via": "query", "param": "key"}
        }"#;
        let (c, errs) = AppConfig::resolve(Some(file), "", &http(), Some("en-US"));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.backend, "ws://llm.corp:8011/ws/chat");
        assert_eq!(c.protocol, Protocol::Session);
        assert_eq!(c.models, ["qwen3-max", "qwen-plus"]);
        assert_eq!(
            (c.title.as_str(), c.logo.as_deref()),
            ("Team chat", Some("TC"))
        );
        assert_eq!((c.lang, c.theme, c.embed), (Lang::Zh, Theme::Dark, true));
        assert_eq!((c.history_window, c.silence_ms), (4, 1500));
        assert_eq!(c.param_defaults.temperature, "0.3");
        assert_eq!(c.param_defaults.max_tokens, "256");
        assert_eq!(c.param_defaults.repetition_penalty, "1.1");
        assert_eq!(c.param_limits.temperature, 0.0..=1.0);
        assert_eq!(
            c.endpoint()
                .url("ws://llm.corp:8011/ws/chat/client_1".into()),
            "ws://llm.corp:8011/ws/chat/client_1?key=s3cr%26t"
        );
        assert_eq!(c.endpoint().subprotocol(), None);

        // The URL wins over the file.
        let (c, errs) = AppConfig::resolve(
            Some(file),
            "?title=Other&theme=light&embed=0&temperature=0.9&lang=en&token=t2",
            &http(),
            None,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            (c.title.as_str(), c.theme, c.embed),
            ("Other", Theme::Light, false)
        );
        assert_eq!(
            (c.lang, c.param_defaults.temperature.as_str()),
            (Lang::En, "0.9")
        );
        assert_eq!(
            c.endpoint().url("ws://h/x?EIO=4".into()),
            "ws://h/x?EIO=4&key=t2"
        );
        // A default outside the configured range is refused, naming it.
        let (c, errs) = AppConfig::resolve(Some(file), "temperature=1.5", &http(), None);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].param, "temperature");
        assert_eq!(c.param_defaults.temperature, "0.3");
    }

    #[test]
    fn language_follows_the_browser_unless_set() {
        let (c, _) = AppConfig::resolve(None, "", &http(), Some("zh-CN"));
        assert_eq!(c.lang, Lang::Zh);
        let (c, _) = AppConfig::resolve(None, "", &http(), Some("fr-FR"));
        assert_eq!(c.lang, Lang::En);
        let (c, _) = AppConfig::resolve(None, "lang=en", &http(), Some("zh-CN"));
        assert_eq!(c.lang, Lang::En);
        let (c, errs) = AppConfig::resolve(Some(r#"{"lang": "de"}"#), "", &http(), Some("zh"));
        assert_eq!((c.lang, errs[0].param.as_str()), (Lang::Zh, "lang"));
    }

    #[test]
    fn bad_config_files_name_the_field_and_keep_the_defaults() {
        let (c, errs) = AppConfig::resolve(Some("{ not json"), "", &http(), None);
        assert_eq!(c, AppConfig::from_query("", &http()).0);
        assert!(!errs[0].fatal);
        assert!(
            errs[0].to_string().starts_with("config.json"),
            "{}",
            errs[0]
        );
        assert!(errs[0].reason.contains("not valid JSON"));
        let (_, errs) = AppConfig::resolve(Some("[1]"), "", &http(), None);
        assert!(errs[0].reason.contains("JSON object"));

        let file = r#"{
            "tittle": "x", "theme": "pink", "history": -1, "embed": [],
            "models": [1], "logo": "a very long logo",
            "params": {"temperature": {"min": 1, "max": 3}, "top_p": {"default": "high"}, "seed": 1},
            "auth": {"token": "t", "via": "carrier pigeon"}
        }"#;
        let (c, errs) = AppConfig::resolve(Some(file), "", &http(), None);
        let named: Vec<&str> = errs.iter().map(|e| e.param.as_str()).collect();
        for field in [
            "tittle",
            "theme",
            "history",
            "embed",
            "models",
            "logo",
            "params.temperature",
            "params.top_p.default",
            "params.seed",
            "auth.via",
        ] {
            assert!(named.contains(&field), "{field} not named in {named:?}");
        }
        assert!(errs.iter().all(|e| !e.fatal), "{errs:?}");
        let defaults = AppConfig::default();
        assert_eq!(c.theme, defaults.theme);
        assert_eq!(c.history_window, defaults.history_window);
        assert_eq!(c.param_limits, defaults.param_limits);
        assert_eq!(c.param_defaults, defaults.param_defaults);
        assert!(errs[0].to_string().contains("config.json"));

        // backend and protocol stay fatal, from either source.
        let (_, errs) = AppConfig::resolve(Some(r#"{"backend": "ftp://x"}"#), "", &http(), None);
        assert!(errs[0].fatal && errs[0].param == "backend");
    }

    #[test]
    fn an_empty_model_list_means_free_text() {
        let (c, _) = AppConfig::resolve(None, "protocol=session", &http(), None);
        assert_eq!(c.models, ["qwen3-max", "qwen-plus", "qwen-turbo"]);
        let (c, _) = AppConfig::resolve(
            Some(r#"{"protocol": "session", "models": []}"#),
            "",
            &http(),
            None,
        );
        assert!(c.models.is_empty());
        let (c, _) = AppConfig::resolve(None, "protocol=nexlm&models=", &http(), None);
        assert!(c.models.is_empty());
    }

    #[test]
    fn a_narrower_range_moves_the_default_inside_it() {
        let file =
            r#"{"params": {"temperature": {"min": 1, "max": 1.5}, "max_tokens": {"max": 100.5}}}"#;
        let (c, errs) = AppConfig::resolve(Some(file), "", &http(), None);
        assert_eq!(c.param_limits.temperature, 1.0..=1.5);
        assert_eq!(c.param_defaults.temperature, "1");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].param, "params.max_tokens");
        let subprotocol = r#"{"auth": {"token": "abc", "via": "subprotocol"}}"#;
        let (c, _) = AppConfig::resolve(Some(subprotocol), "", &http(), None);
        assert_eq!(c.endpoint().subprotocol(), Some("abc"));
        assert_eq!(c.endpoint().url("ws://h/ws".into()), "ws://h/ws");
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
