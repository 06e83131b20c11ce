//! Which link targets model output may carry.
//!
//! The rule: a link is kept only when it is an absolute `http:`, `https:`
//! or `mailto:` URL. Everything else (`javascript:`, `data:`, `vbscript:`,
//! `file:`, relative paths, which would point into the chat app itself)
//! is rendered as plain text. Images are never loaded from model output:
//! they are shown as a link to the image, labelled with their alt text,
//! so a reply cannot track its reader or load anything by itself.

const ALLOWED: &[&str] = &["http", "https", "mailto"];

/// The URL to put in `href`, or `None` when the target is not allowed.
pub fn safe_href(raw: &str) -> Option<String> {
    // Browsers drop tabs and newlines anywhere in a URL and trim C0
    // controls and spaces around it; judge the URL they would see.
    let url: String = raw
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url.trim_matches(|c: char| c <= ' ');
    let (scheme, rest) = url.split_once(':')?;
    if !ALLOWED.iter().any(|a| scheme.eq_ignore_ascii_case(a)) {
        return None;
    }
    let ok = if scheme.eq_ignore_ascii_case("mailto") {
        !rest.is_empty()
    } else {
        // An authority is required: `http:foo` is a relative reference
        // in disguise.
        rest.strip_prefix("//")
            .is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
    };
    // Control characters have no business in a link.
    ok.then(|| url.to_owned())
        .filter(|u| !u.chars().any(|c| c.is_control()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_web_and_mail_links() {
        for url in [
            "https://example.com/a?b=c#d",
            "http://127.0.0.1:8080/",
            "HTTPS://EXAMPLE.COM",
            "mailto:someone@example.com",
            "  https://example.com  ",
        ] {
            assert!(safe_href(url).is_some(), "{url}");
        }
        assert_eq!(
            safe_href("https://exa\tmple.com").as_deref(),
            Some("https://example.com")
        );
    }

    #[test]
    fn refuses_everything_else() {
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "file:///etc/passwd",
            "blob:https://example.com/x",
            "/relative/path",
            "relative",
            "#fragment",
            "//example.com/protocol-relative",
            "http:relative",
            "https:///no-host",
            "mailto:",
            "",
        ] {
            assert_eq!(safe_href(url), None, "{url:?}");
        }
    }
}
