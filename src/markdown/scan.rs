//! Where top-level blocks surely begin, found by reading lines rather
//! than parsing. A burst of text (a fast backend, a reply taken up again)
//! can hold thousands of blocks; parsing all of them to find where they
//! begin costs ~10 ms per 100 KB in the browser. This scan costs a
//! fraction of that and finds enough of the starts to cut the text into
//! pieces that render alone as they do within it.
//!
//! It finds a subset of the starts, never a line that is not one: a
//! paragraph that begins at the first column after a blank line, outside
//! a fenced code block. After a blank line, such a line cannot continue
//! any open block (a list item or an indented code block needs an indent,
//! a quote its `>`, a table or paragraph ends at the blank line) except
//! two kinds of block that run across blank lines: fenced code, which
//! the scan follows, and raw HTML blocks, at which it stops. It also
//! stops at any line it could misread: one with a carriage return or NUL
//! (the parser's line ends and replacements), and a code fence that is
//! indented (it may sit in a container that closes it).

/// Line starts in `text[from..to]`, after `from`, where a top-level
/// paragraph surely begins. `from` must be where a top-level block
/// begins. Only complete lines are read. One pass over the bytes: each
/// line's end is found by a loop that only compares bytes, and only the
/// first bytes of a line (or, in a fence, of a line that may close it)
/// are read again. It runs at the end of a burst of text, on up to
/// megabytes, so it is written for speed in an optimized-for-size build.
pub fn sure_block_starts(text: &str, from: usize, to: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let Some(region) = text.get(from..to) else {
        return starts;
    };
    let bytes = region.as_bytes();
    let mut fence: Option<(u8, usize)> = None;
    let mut after_blank = false;
    let mut start = 0;
    // The scan stops at the first carriage return or NUL: the line that
    // holds it is incomplete from here on.
    while let Some(end) = line_end(bytes, start) {
        let line = &bytes[start..=end];
        let at = start;
        start = end + 1;
        if let Some(open) = fence {
            if closes(line, open) {
                fence = None;
            }
            after_blank = false;
            continue;
        }
        let indent = line
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let body = &line[indent..];
        if body[0] == b'<' {
            break;
        }
        if let Some(open) = opens_fence(body) {
            if indent > 0 {
                break;
            }
            fence = Some(open);
            after_blank = false;
            continue;
        }
        if after_blank && at > 0 && line[0].is_ascii_alphabetic() {
            starts.push(from + at);
        }
        after_blank = body == b"\n";
    }
    starts
}

/// Where the line that starts at `start` ends (its `\n`), or `None` if
/// a carriage return or NUL comes first or the text ends first. Eight
/// bytes at a time while none of them is one of those three.
fn line_end(bytes: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Whether a byte of `x` is zero (exact when none is).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & (ONES << 7) != 0;
    let mut i = start;
    while let Some(Ok(word)) = bytes.get(i..i + 8).map(<[u8; 8]>::try_from) {
        let x = u64::from_le_bytes(word);
        if has_zero(x)
            || has_zero(x ^ (ONES * u64::from(b'\n')))
            || has_zero(x ^ (ONES * u64::from(b'\r')))
        {
            break;
        }
        i += 8;
    }
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => return Some(i),
            b'\r' | 0 => return None,
            _ => i += 1,
        }
    }
    None
}

/// The fence character and length if `body` (a line after its indent)
/// opens a fenced code block.
fn opens_fence(body: &[u8]) -> Option<(u8, usize)> {
    let c = *body.first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = body.iter().take_while(|&&b| b == c).count();
    // A backtick fence's info string has no backtick (else it is code
    // inline).
    (n >= 3 && (c == b'~' || !body[n..].contains(&b'`'))).then_some((c, n))
}

/// Whether `line` closes a fence opened with `open`: up to 3 spaces, at
/// least as many fence characters, then only blanks.
fn closes(line: &[u8], (c, n): (u8, usize)) -> bool {
    let spaces = line.iter().take_while(|&&b| b == b' ').count();
    if spaces > 3 {
        return false;
    }
    let body = &line[spaces..];
    let run = body.iter().take_while(|&&b| b == c).count();
    run >= n
        && body[run..]
            .iter()
            .all(|&b| b == b' ' || b == b'\t' || b == b'\n')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::markdown::render::{block_starts, render};
    use proptest::prelude::*;

    fn starts(text: &str) -> Vec<usize> {
        sure_block_starts(text, 0, text.len())
    }

    #[test]
    fn paragraphs_after_blank_lines_are_found() {
        let text = "One.\n\nTwo.\n- a\n\nThree.\n\n- b\n\n```\n\nIn code.\n```\n\nFour.\n";
        let found: Vec<&str> = starts(text).iter().map(|&s| &text[s..s + 4]).collect();
        assert_eq!(found, ["Two.", "Thre", "Four"]);
    }

    #[test]
    fn nothing_inside_a_fence_counts_however_it_is_closed() {
        // A shorter run, an indented run of 4 and text after the run do
        // not close it; a longer run does.
        let text = "````\n\nA\n```\n\nB\n    ````\n\nC\n```` x\n\nD\n`````\n\nE\n";
        let found: Vec<&str> = starts(text).iter().map(|&s| &text[s..s + 1]).collect();
        assert_eq!(found, ["E"]);
        let text = "~~~ `x`\n\nA\n~~~\n\nB\n";
        let found: Vec<&str> = starts(text).iter().map(|&s| &text[s..s + 1]).collect();
        assert_eq!(found, ["B"]);
        // Not a fence: a backtick in the info string.
        let text = "``` a`b\n\nA\n";
        assert_eq!(starts(text).len(), 1);
    }

    #[test]
    fn it_stops_where_it_could_misread() {
        for stop in [
            "<pre>\n\nx\n",
            "<!--\n\nx\n",
            "  <div>\n",
            "- a\n\n  ```\n\nb\n",
            " ```\n",
            "x\r\n\r\n",
            "a\0\n",
        ] {
            let text = format!("A.\n\nB.\n\n{stop}\nC.\n\nD.\n");
            let found: Vec<&str> = starts(&text).iter().map(|&s| &text[s..s + 2]).collect();
            assert_eq!(found, ["B."], "{stop:?}");
        }
        // An incomplete last line is not read.
        assert!(starts("A.\n\nB.").is_empty());
    }

    #[test]
    fn a_line_ends_wherever_its_end_falls_in_a_word() {
        // Line ends and stops at each offset from a start, with bytes
        // that are one bit away from them (and from zero) around them.
        for start in 0..9 {
            for at in start..start + 24 {
                for (b, want) in [(b'\n', Some(at)), (b'\r', None), (0, None)] {
                    let mut bytes = vec![b'\x0b'; start + 32];
                    bytes[at] = b;
                    bytes.push(b'\n');
                    assert_eq!(line_end(&bytes, start), want, "{start} {at} {b}");
                }
            }
            assert_eq!(line_end(&[0x80; 20], start), None);
            let mut text = vec![0x8a; 20];
            text.push(b'\n');
            assert_eq!(line_end(&text, start), Some(20));
        }
    }

    #[test]
    fn a_fence_in_a_list_item_stops_it() {
        // The fence is the item's, and ends with it at `B`; the indented
        // fence after `B` opens one at the top level, which holds `C`.
        let text = "A.\n\nB.\n\n- a\n  ```\n  x\n\nB\n  ```\n\nC\n";
        assert_eq!(starts(text), [4]);
    }

    /// The scan as it was first written, over `str` lines: simpler to
    /// read, and ~3 times slower in the browser. The byte scan must find
    /// exactly what it finds.
    mod reference {
        pub fn reference(text: &str, from: usize, to: usize) -> Vec<usize> {
            let mut starts = Vec::new();
            let Some(region) = text.get(from..to) else {
                return starts;
            };
            // The scan stops at the first carriage return or NUL: the line that
            // holds it is incomplete from here on.
            let end = region.bytes().position(|b| b == b'\r' || b == 0);
            let mut rest = &region[..end.unwrap_or(region.len())];
            let mut fence: Option<(u8, usize)> = None;
            let mut after_blank = false;
            let mut at = from;
            while let Some(nl) = rest.find('\n') {
                let line = &rest[..=nl];
                rest = &rest[nl + 1..];
                let start = at;
                at += line.len();
                let bytes = line.as_bytes();
                if let Some(open) = fence {
                    if ref_closes(line, open) {
                        fence = None;
                    }
                    after_blank = false;
                    continue;
                }
                let body = line.trim_start_matches([' ', '\t']);
                let indented = body.len() < line.len();
                if body.starts_with('<') {
                    break;
                }
                if let Some(open) = ref_opens_fence(body) {
                    if indented {
                        break;
                    }
                    fence = Some(open);
                    after_blank = false;
                    continue;
                }
                if after_blank && start > from && bytes[0].is_ascii_alphabetic() {
                    starts.push(start);
                }
                after_blank = body == "\n";
            }
            starts
        }

        // The fence character and length if `body` (a line after its indent)
        // opens a fenced code block.
        fn ref_opens_fence(body: &str) -> Option<(u8, usize)> {
            let c = *body.as_bytes().first()?;
            if c != b'`' && c != b'~' {
                return None;
            }
            let n = body.bytes().take_while(|&b| b == c).count();
            // A backtick fence's info string has no backtick (else it is code
            // inline).
            (n >= 3 && (c == b'~' || !body[n..].contains('`'))).then_some((c, n))
        }

        // Whether `line` closes a fence opened with `open`: up to 3 spaces, at
        // least as many fence characters, then only blanks.
        fn ref_closes(line: &str, (c, n): (u8, usize)) -> bool {
            let body = line.trim_start_matches(' ');
            if line.len() - body.len() > 3 {
                return false;
            }
            let run = body.bytes().take_while(|&b| b == c).count();
            run >= n && body[run..].trim_matches([' ', '\t', '\n']).is_empty()
        }
    }

    /// A line: an indent or container mark, then what follows it.
    pub(crate) fn line() -> impl Strategy<Value = String> {
        // Paragraphs after blank lines are common, as in replies.
        let lead = prop_oneof![
            12 => Just(""),
            1 => prop_oneof![
                Just(" "), Just("  "), Just("   "), Just("    "), Just("\t"), Just("- "),
                Just("* "), Just("1. "), Just("2) "), Just("> "), Just("  - "), Just(">"), Just("-"),
            ],
        ];
        let body = prop_oneof![
            4 => Just(""),
            4 => prop_oneof![Just("word"), Just("Word two"), Just("x *y* `z`")],
            3 => prop_oneof![
                Just("```"), Just("```rust"), Just("``` a`b"), Just("````"), Just("~~~"),
                Just("~~~ x"), Just("<div>"), Just("<pre>"), Just("</pre>"), Just("<!--"),
                Just("-->"), Just("<?x"), Just("| a | b |"), Just("|---|---|"), Just("---"),
                Just("==="), Just("# h"), Just("- [ ] t"), Just("中文"), Just("x\r"), Just("  "),
            ],
        ];
        (lead, body).prop_map(|(l, b)| format!("{l}{b}\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        /// Every start the scan finds is one the parser finds, and the
        /// pieces between them render alone as they do within the text.
        #[test]
        fn every_start_found_is_a_block_start(
            lines in proptest::collection::vec(line(), 0..40),
            cut in 0usize..400,
        ) {
            let mut text: String = lines.concat();
            // Sometimes the last line is incomplete.
            if cut < text.len() && text.is_char_boundary(text.len() - cut.min(3)) {
                text.truncate(text.len() - cut.min(3));
            }
            let found = starts(&text);
            let parsed = block_starts(&text);
            for s in &found {
                prop_assert!(parsed.contains(s), "{} not a block start in {:?}", s, text);
            }
            let mut cuts = vec![0];
            cuts.extend(&found);
            cuts.push(text.len());
            let pieces: Vec<_> = cuts.windows(2).flat_map(|w| render(&text[w[0]..w[1]])).collect();
            prop_assert_eq!(pieces, render(&text), "{:?}", text);
        }

        /// The byte scan finds what the scan over lines finds, from any
        /// line start to any line end.
        #[test]
        fn the_byte_scan_finds_what_the_line_scan_finds(
            lines in proptest::collection::vec(line(), 0..40),
            from in 0usize..40,
            to in 0usize..40,
        ) {
            let text: String = lines.concat();
            let bound = |k: usize| lines[..k.min(lines.len())].iter().map(String::len).sum::<usize>();
            let (from, to) = (bound(from), bound(to));
            prop_assert_eq!(
                sure_block_starts(&text, from, to),
                reference::reference(&text, from, to),
                "{:?} {}..{}", text, from, to
            );
        }
    }
}
