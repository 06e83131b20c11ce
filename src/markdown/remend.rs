//! Mid-stream repair of the open block: closes inline markup the model
//! has opened but not yet closed (`**bold`, `` `code ``, `~~strike`,
//! `[link](http://partial`), and hides a marker that has nothing after
//! it yet. Without this a reply flickers between raw markers and
//! formatted text as tokens arrive. Only ever used while streaming; the
//! finished reply is rendered from its exact text.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Em(char),
    Strong(char),
    Strike(usize),
}

impl Mark {
    fn closer(self) -> String {
        match self {
            Mark::Em(c) => c.to_string(),
            Mark::Strong(c) => format!("{c}{c}"),
            Mark::Strike(n) => "~".repeat(n),
        }
    }
}

/// Where the text ends: in a paragraph-like run of lines starting at an
/// offset, or inside a fenced code block (which the parser already
/// renders as code).
enum Tail {
    Run(usize),
    Fence(char),
}

fn tail(src: &str) -> Tail {
    // The fence character and length, the opening line's indent, and
    // whether it opened outside any quote or list item.
    let mut fence: Option<(char, usize, usize, bool)> = None;
    let mut run_start = 0;
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        let indent = indent_columns(line);
        let plain = line.trim_start_matches([' ', '\t']);
        let body = line.trim_start_matches([' ', '\t', '>']);
        let body = strip_list_marker(body);
        let top_level = body.len() == plain.len();
        // Inside a fence opened at the top level, quote and list markers
        // are code: only a fence at the line's start closes it.
        let fence_body = match fence {
            Some((_, _, _, true)) => plain,
            _ => body,
        };
        let fence_char = fence_body.chars().next().filter(|c| matches!(c, '`' | '~'));
        let fence_len =
            fence_char.map_or(0, |c| fence_body.chars().take_while(|x| *x == c).count());
        match (fence, fence_char) {
            (None, Some(c)) if fence_len >= 3 => fence = Some((c, fence_len, indent, top_level)),
            (Some((c, n, open_indent, _)), Some(_))
                if closes_fence(fence_body, indent, (c, n), open_indent) =>
            {
                fence = None;
                run_start = offset + line.len();
            }
            _ => {}
        }
        let starts_block = line.trim().is_empty()
            || body.len() != line.trim_start_matches([' ', '\t', '>']).len()
            || body.starts_with('#');
        if fence.is_none() {
            if line.trim().is_empty() {
                run_start = offset + line.len();
            } else if starts_block {
                run_start = offset;
            }
        }
        offset += line.len();
    }
    match fence {
        Some((c, ..)) => Tail::Fence(c),
        None => Tail::Run(run_start),
    }
}

/// Whether a line closes a fence of `mark` (its character and length)
/// opened `open_indent` columns in: `body` is the line after its indent
/// of `indent` columns (and any container markers). A closing fence is
/// indented at most 3 columns more than the opening one (further in, it
/// is code), and only blanks follow its fence characters.
pub fn closes_fence(body: &str, indent: usize, mark: (char, usize), open_indent: usize) -> bool {
    let (c, n) = mark;
    let run = body.chars().take_while(|x| *x == c).count();
    run >= n && indent <= open_indent + 3 && body[run..].trim().is_empty()
}

/// How many columns `line` is indented, a tab to the next multiple of 4.
pub fn indent_columns(line: &str) -> usize {
    line.chars()
        .take_while(|c| matches!(c, ' ' | '\t'))
        .fold(0, |col, c| {
            if c == '\t' {
                col + 4 - col % 4
            } else {
                col + 1
            }
        })
}

/// `src` without its last line, when that line is unfinished and only
/// `-` or `=` (after any indent and quote markers): the parser reads it
/// as a setext underline, so the paragraph above would show as a heading
/// until the line turns out to start a list item (`Intro:\n-` becoming
/// `Intro:\n- item`). A complete underline is left alone.
fn without_underline_to_be(src: &str) -> Option<&str> {
    let line_start = src.rfind('\n')? + 1;
    let body = src[line_start..]
        .trim_start_matches([' ', '\t', '>'])
        .trim_end_matches([' ', '\t']);
    let underline =
        !body.is_empty() && (body.bytes().all(|b| b == b'-') || body.bytes().all(|b| b == b'='));
    (underline && matches!(tail(src), Tail::Run(_))).then(|| &src[..line_start])
}

fn strip_list_marker(s: &str) -> &str {
    let bullet = s
        .strip_prefix(['-', '*', '+'])
        .filter(|r| r.starts_with([' ', '\t']) || r.trim().is_empty() && !r.is_empty());
    if let Some(r) = bullet {
        return r.trim_start();
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        if let Some(r) = s[digits..].strip_prefix(['.', ')']) {
            if r.starts_with([' ', '\t']) {
                return r.trim_start();
            }
        }
    }
    s
}

/// The text to render for an open block, when it differs from `src`.
pub fn close_open_inlines(src: &str) -> Option<String> {
    if let Some(kept) = without_underline_to_be(src) {
        return Some(close_open_inlines(kept).unwrap_or_else(|| kept.to_owned()));
    }
    let start = match tail(src) {
        Tail::Run(start) => start,
        Tail::Fence(c) => {
            // A closing fence on its way (`` ` ``, ``` `` ```) is not code
            // to show.
            let line_start = src.rfind('\n').map_or(0, |i| i + 1);
            let last = src[line_start..].trim();
            return (!last.is_empty() && last.chars().all(|x| x == c) && line_start > 0)
                .then(|| src[..line_start].to_owned());
        }
    };
    let region = &src[start..];
    let chars: Vec<(usize, char)> = region.char_indices().collect();
    let mut stack: Vec<(Mark, usize)> = Vec::new();
    let mut code: Option<(usize, usize)> = None; // (backticks, position)
    let mut link_dest: Option<(usize, usize)> = None; // (paren depth, position)
    let mut line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let prev = i.checked_sub(1).map(|j| chars[j].1);
        if c == '\n' {
            line_start = true;
            i += 1;
            continue;
        }
        let at_line_start = line_start;
        if !c.is_whitespace() {
            line_start = false;
        }
        if c == '`' {
            let n = chars[i..].iter().take_while(|(_, x)| *x == '`').count();
            match code {
                Some((m, _)) if m == n => code = None,
                Some(_) => {}
                None => code = Some((n, pos)),
            }
            i += n;
            continue;
        }
        if code.is_some() {
            i += 1;
            continue;
        }
        if c == '\\' {
            i += 2;
            continue;
        }
        if let Some((depth, p)) = link_dest {
            match c {
                '(' => link_dest = Some((depth + 1, p)),
                ')' if depth == 0 => link_dest = None,
                ')' => link_dest = Some((depth - 1, p)),
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == ']' && chars.get(i + 1).is_some_and(|(_, x)| *x == '(') {
            link_dest = Some((0, pos));
            i += 2;
            continue;
        }
        if matches!(c, '*' | '_' | '~') {
            let n = chars[i..].iter().take_while(|(_, x)| *x == c).count();
            let next = chars.get(i + n).map(|(_, x)| *x);
            let left_ws = prev.is_none_or(char::is_whitespace);
            let right_ws = next.is_some_and(char::is_whitespace);
            let bullet = c != '~' && at_line_start && n == 1 && (right_ws || next.is_none());
            let intraword = c == '_'
                && prev.is_some_and(char::is_alphanumeric)
                && next.is_some_and(char::is_alphanumeric);
            let marks: Vec<Mark> = match (c, n) {
                ('~', 1 | 2) => vec![Mark::Strike(n)],
                ('~', _) => vec![],
                (_, 1) => vec![Mark::Em(c)],
                (_, 2) => vec![Mark::Strong(c)],
                (_, 3) => vec![Mark::Strong(c), Mark::Em(c)],
                _ => vec![],
            };
            let can_close = !(left_ws || c == '_' && next.is_some_and(char::is_alphanumeric));
            let can_open = !(right_ws || c == '_' && prev.is_some_and(char::is_alphanumeric));
            if !bullet && !intraword && !marks.is_empty() {
                // The innermost open marks, innermost first; `***` closes
                // a strong and an em in either nesting.
                let top: Vec<Mark> = stack
                    .iter()
                    .rev()
                    .take(marks.len())
                    .map(|(m, _)| *m)
                    .collect();
                let closes = top.len() == marks.len()
                    && (top.iter().eq(marks.iter()) || top.iter().eq(marks.iter().rev()));
                if can_close && closes {
                    stack.truncate(stack.len() - marks.len());
                } else if can_open {
                    for m in marks {
                        stack.push((m, pos));
                    }
                }
            }
            i += n;
            continue;
        }
        i += 1;
    }

    let mut text = region.to_owned();
    let mut closers = String::new();
    let empty_after =
        |text: &str, p: usize, len: usize| text[(p + len).min(text.len())..].trim().is_empty();
    if let Some((n, p)) = code {
        if empty_after(&text, p, n) {
            text.truncate(p);
        } else {
            closers.push_str(&"`".repeat(n));
        }
    } else if link_dest.is_some() {
        // `[text](http://partial`: a link to be, not raw brackets.
        closers.push(')');
    }
    // A marker with nothing after it yet is hidden; the rest are closed,
    // innermost first.
    while let Some(&(m, p)) = stack.last() {
        if closers.is_empty() && empty_after(&text, p, m.closer().len()) {
            text.truncate(p);
            stack.pop();
        } else {
            break;
        }
    }
    for (m, _) in stack.iter().rev() {
        closers.push_str(&m.closer());
    }
    if closers.is_empty() && text.len() == region.len() {
        return None;
    }
    // Closers go before trailing whitespace, or they could not close.
    let body_len = text.trim_end().len();
    let trailing = text.split_off(body_len);
    let mut out = String::with_capacity(start + text.len() + closers.len() + trailing.len());
    out.push_str(&src[..start]);
    out.push_str(&text);
    out.push_str(&closers);
    out.push_str(&trailing);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::render::render;
    use crate::markdown::vnode::{to_html, VNode};

    fn fix(s: &str) -> String {
        close_open_inlines(s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn closes_what_is_open() {
        assert_eq!(fix("some **bold"), "some **bold**");
        assert_eq!(fix("some *em and **strong"), "some *em and **strong***");
        assert_eq!(fix("a `code"), "a `code`");
        assert_eq!(fix("a ``co`de"), "a ``co`de``");
        assert_eq!(fix("~~gone"), "~~gone~~");
        assert_eq!(fix("see [docs](https://exa"), "see [docs](https://exa)");
        assert_eq!(fix("**bold\n"), "**bold**\n");
        assert_eq!(fix("__under"), "__under__");
    }

    #[test]
    fn hides_markers_with_nothing_after_them() {
        assert_eq!(fix("text **"), "text ");
        assert_eq!(fix("text `"), "text ");
        assert_eq!(fix("**a** and *"), "**a** and ");
    }

    #[test]
    fn leaves_finished_and_literal_text_alone() {
        for s in [
            "done **bold** and *em* and `code`",
            "snake_case_name",
            "2 * 3 * 4",
            "escaped \\*star",
            "- item\n- item",
            "* bullet",
            "```rust\nlet a = *b;",
            "para\n\n```\n**not closed in code",
            "[link](https://x) done",
        ] {
            assert_eq!(close_open_inlines(s), None, "{s:?}");
        }
    }

    #[test]
    fn only_the_last_paragraph_is_considered() {
        // An unmatched marker in an earlier paragraph is literal text.
        assert_eq!(fix("a *b\n\nc **d"), "a *b\n\nc **d**");
        assert_eq!(fix("```\n*\n```\nx *y"), "```\n*\n```\nx *y*");
        assert_eq!(fix("- one *a\n- two **b"), "- one *a\n- two **b**");
    }

    #[test]
    fn a_closing_fence_on_its_way_is_not_shown_as_code() {
        assert_eq!(fix("```js\nlet a;\n`"), "```js\nlet a;\n");
        assert_eq!(fix("```js\nlet a;\n``"), "```js\nlet a;\n");
        assert_eq!(close_open_inlines("```js\nlet a = `x`;"), None);
        assert_eq!(close_open_inlines("```js\n"), None);
        // Indented four spaces more than the opening, it is code: the
        // block is still open and nothing in it is "closed".
        assert_eq!(close_open_inlines("```md\n    ```\nsee `x"), None);
        assert_eq!(fix("```md\n   ```\nsee `x"), "```md\n   ```\nsee `x`");
        assert_eq!(
            fix("1. ```\n   ```\n   see `x"),
            "1. ```\n   ```\n   see `x`"
        );
    }

    #[test]
    fn a_list_item_on_its_way_does_not_make_a_heading() {
        let doc = "Steps:\n- one *two*\n  more:\n  - three\n> quoted\n> -\n";
        for cut in 1..doc.len() {
            let html = to_html(&render(&fix(&doc[..cut])));
            assert!(!html.contains("<h"), "{:?} shows {html}", &doc[..cut]);
        }
        // A finished underline is one; in a code block, a line is code.
        assert_eq!(to_html(&render(&fix("Title\n==\n"))), "<h1>Title</h1>");
        assert!(to_html(&render(&fix("```\na\n-"))).contains("a\n-"));
        assert_eq!(fix("a\n - "), "a\n");
        assert_eq!(fix("**a\n="), "**a**\n");
    }

    #[test]
    fn no_prefix_of_a_reply_shows_raw_markers() {
        let doc = "Some **bold words** and *em text* with `inline code`, ~~struck~~ and __under__ \
                   plus [a link](https://example.com/path) end.\n\n- item **one**\n- item *two*\n";
        let mut cut = 0;
        while cut < doc.len() {
            cut += 1;
            while !doc.is_char_boundary(cut) {
                cut += 1;
            }
            let prefix = &doc[..cut];
            let shown: String = render(&fix(prefix))
                .iter()
                .map(VNode::text_content)
                .collect();
            for marker in ['*', '`', '~', '(', ')'] {
                assert!(
                    !shown.contains(marker),
                    "prefix {prefix:?} shows {marker:?}: {shown:?} ({})",
                    to_html(&render(&fix(prefix)))
                );
            }
        }
    }
}
