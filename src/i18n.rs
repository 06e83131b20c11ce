//! English and Chinese. The page's language is fixed at start (from the
//! configuration or the browser); every string the app shows goes through
//! [`tr`] (a fixed string) or [`trf!`](crate::trf) (a formatted one), each
//! with both languages side by side so none can be left out.

use std::cell::Cell;

use crate::config::Lang;

thread_local! {
    static LANG: Cell<Lang> = const { Cell::new(Lang::En) };
}

/// Sets the page's language (once, at start).
pub fn set_lang(lang: Lang) {
    LANG.with(|l| l.set(lang));
}

pub fn lang() -> Lang {
    LANG.with(Cell::get)
}

/// The string for the page's language.
pub fn tr(en: &'static str, zh: &'static str) -> &'static str {
    match lang() {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// `trf!("{n} messages", "{n} 条消息")`: a formatted string for the page's
/// language.
#[macro_export]
macro_rules! trf {
    ($en:literal, $zh:literal $(, $arg:expr)* $(,)?) => {
        match $crate::i18n::lang() {
            $crate::config::Lang::Zh => format!($zh $(, $arg)*),
            $crate::config::Lang::En => format!($en $(, $arg)*),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_page_language() {
        let n = 3;
        assert_eq!(tr("Send", "发送"), "Send");
        assert_eq!(trf!("{n} messages", "{n} 条消息"), "3 messages");
        set_lang(Lang::Zh);
        assert_eq!(tr("Send", "发送"), "发送");
        assert_eq!(trf!("{n} messages", "{n} 条消息"), "3 条消息");
        assert_eq!(trf!("{} of {}", "{} / {}", 1, 2), "1 / 2");
        set_lang(Lang::En);
    }
}
