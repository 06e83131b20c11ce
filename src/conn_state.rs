//! The connection's state as the UI shows it.

use crate::i18n::tr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// First connection attempt.
    Connecting,
    /// Connected and ready for chats.
    Open,
    /// Lost or never reached; retrying. `retry_in_ms` is the wait before
    /// the next attempt (0 while an attempt is under way).
    Reconnecting { attempt: u32, retry_in_ms: u32 },
    /// Not connecting at all (bad configuration, unsupported server).
    Closed { reason: String },
}

impl ConnState {
    /// The value of the indicator's `data-state`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Open => "open",
            ConnState::Reconnecting { .. } => "reconnecting",
            ConnState::Closed { .. } => "closed",
        }
    }

    pub fn label(&self) -> String {
        match self {
            ConnState::Connecting => tr("Connecting…", "正在连接…").into(),
            ConnState::Open => tr("Connected", "已连接").into(),
            ConnState::Reconnecting {
                attempt,
                retry_in_ms: 0,
            } => trf!(
                "Reconnecting (attempt {attempt})…",
                "正在重连（第 {attempt} 次）…"
            ),
            ConnState::Reconnecting {
                attempt,
                retry_in_ms,
            } => trf!(
                "Connection lost; retrying in {:.1} s (attempt {attempt})",
                "连接已断开，{:.1} 秒后重试（第 {attempt} 次）",
                f64::from(*retry_in_ms) / 1000.0
            ),
            ConnState::Closed { reason } => trf!("Disconnected: {reason}", "未连接：{reason}"),
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, ConnState::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_stable_hooks_and_labels() {
        assert_eq!(ConnState::Connecting.as_str(), "connecting");
        assert_eq!(ConnState::Open.as_str(), "open");
        let r = ConnState::Reconnecting {
            attempt: 2,
            retry_in_ms: 1500,
        };
        assert_eq!(r.as_str(), "reconnecting");
        assert_eq!(r.label(), "Connection lost; retrying in 1.5 s (attempt 2)");
        let c = ConnState::Closed {
            reason: "bad URL".into(),
        };
        assert_eq!(c.as_str(), "closed");
        assert!(c.label().contains("bad URL"));
        assert!(ConnState::Open.is_open() && !r.is_open());
    }
}
