//! Syntax highlighting for code blocks: a small lexer per language
//! family that splits code into classified pieces. The pieces always
//! concatenate back to the exact input, so what is copied is what the
//! model wrote. It is a highlighter, not a parser: it never fails, and
//! unfinished code (mid-stream) highlights as far as it goes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Keyword,
    Type,
    Literal,
    String,
    Number,
    Comment,
    Meta,
    Tag,
    Attr,
    Property,
    Variable,
}

impl Kind {
    pub fn class(self) -> &'static str {
        match self {
            Kind::Keyword => "hl-kw",
            Kind::Type => "hl-ty",
            Kind::Literal => "hl-lit",
            Kind::String => "hl-str",
            Kind::Number => "hl-num",
            Kind::Comment => "hl-com",
            Kind::Meta => "hl-meta",
            Kind::Tag => "hl-tag",
            Kind::Attr => "hl-attr",
            Kind::Property => "hl-prop",
            Kind::Variable => "hl-var",
        }
    }
}

/// A piece of code and how to show it (`None`: plain).
pub type Piece<'a> = (Option<Kind>, &'a str);

#[derive(Debug)]
struct Lang {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    /// Quote characters that start single-line strings.
    quotes: &'static [char],
    /// Strings that may span lines (backticks, triple quotes).
    multiline_quotes: &'static [&'static str],
    keywords: &'static [&'static str],
    types: &'static [&'static str],
    literals: &'static [&'static str],
    case_insensitive: bool,
    /// `#` at the start of a line begins a preprocessor line (C, C++).
    preprocessor: bool,
    /// `@name` is an annotation or decorator.
    annotations: bool,
    /// `$name` and `${...}` are variables (shell).
    dollar_variables: bool,
    /// Rust: `'a` is a lifetime unless it closes as a char literal.
    rust_chars: bool,
    /// String prefixes such as Python's `r`, `b`, `f`.
    string_prefixes: &'static [char],
    /// A string followed by `:` is a property name (JSON).
    keys_before_colon: bool,
    /// CSS: `name:` inside braces is a property, `#fff` a colour.
    css_rules: bool,
}

const BASE: Lang = Lang {
    line_comments: &[],
    block_comment: None,
    quotes: &['"', '\''],
    multiline_quotes: &[],
    keywords: &[],
    types: &[],
    literals: &[],
    case_insensitive: false,
    preprocessor: false,
    annotations: false,
    dollar_variables: false,
    rust_chars: false,
    string_prefixes: &[],
    keys_before_colon: false,
    css_rules: false,
};

const RUST: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"', '\''],
    keywords: &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "Self",
        "static",
        "struct",
        "super",
        "trait",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "yield",
        "macro_rules",
    ],
    types: &[
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
        "f32", "f64", "bool", "char", "str", "String", "Vec", "Option", "Result", "Box", "Rc",
        "Arc", "HashMap", "HashSet", "Some", "None", "Ok", "Err",
    ],
    literals: &["true", "false"],
    annotations: false,
    rust_chars: true,
    ..BASE
};

const PYTHON: Lang = Lang {
    line_comments: &["#"],
    multiline_quotes: &["\"\"\"", "'''"],
    keywords: &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
        "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with",
        "yield", "match", "case",
    ],
    types: &[
        "int",
        "float",
        "str",
        "bytes",
        "bool",
        "list",
        "dict",
        "set",
        "tuple",
        "object",
        "print",
        "len",
        "range",
        "self",
        "cls",
        "Exception",
    ],
    literals: &["True", "False", "None"],
    annotations: true,
    string_prefixes: &['r', 'b', 'f', 'u', 'R', 'B', 'F', 'U'],
    ..BASE
};

const JS_KEYWORDS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "finally",
    "for",
    "from",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "of",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "interface",
    "type",
    "enum",
    "implements",
    "namespace",
    "declare",
    "readonly",
    "private",
    "protected",
    "public",
    "abstract",
    "as",
    "keyof",
];

const JAVASCRIPT: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    multiline_quotes: &["`"],
    keywords: JS_KEYWORDS,
    types: &[
        "string", "number", "boolean", "any", "unknown", "never", "object", "Promise", "Array",
        "Map", "Set", "Object", "String", "Number", "Error", "console", "window", "document",
    ],
    literals: &["true", "false", "null", "undefined", "NaN", "Infinity"],
    annotations: true,
    ..BASE
};

const JAVA: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    multiline_quotes: &["\"\"\""],
    keywords: &[
        "abstract",
        "assert",
        "break",
        "case",
        "catch",
        "class",
        "continue",
        "default",
        "do",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "for",
        "if",
        "implements",
        "import",
        "instanceof",
        "interface",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "try",
        "var",
        "volatile",
        "while",
        "record",
        "sealed",
        "permits",
        "yield",
    ],
    types: &[
        "boolean", "byte", "char", "short", "int", "long", "float", "double", "void", "String",
        "Object", "Integer", "List", "Map", "Optional",
    ],
    literals: &["true", "false", "null"],
    annotations: true,
    ..BASE
};

const GO: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    multiline_quotes: &["`"],
    keywords: &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ],
    types: &[
        "bool",
        "byte",
        "complex64",
        "complex128",
        "error",
        "float32",
        "float64",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "rune",
        "string",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "any",
        "make",
        "new",
        "len",
        "append",
        "panic",
    ],
    literals: &["true", "false", "nil", "iota"],
    ..BASE
};

const C: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    keywords: &[
        "auto",
        "break",
        "case",
        "const",
        "continue",
        "default",
        "do",
        "else",
        "enum",
        "extern",
        "for",
        "goto",
        "if",
        "inline",
        "register",
        "restrict",
        "return",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "volatile",
        "while",
        "class",
        "namespace",
        "template",
        "typename",
        "public",
        "private",
        "protected",
        "virtual",
        "override",
        "new",
        "delete",
        "using",
        "try",
        "catch",
        "throw",
        "constexpr",
        "auto",
        "this",
        "operator",
        "friend",
        "noexcept",
        "static_cast",
        "dynamic_cast",
        "reinterpret_cast",
    ],
    types: &[
        "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "bool",
        "size_t", "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t",
        "uint64_t", "std", "string", "vector", "FILE",
    ],
    literals: &["true", "false", "NULL", "nullptr"],
    preprocessor: true,
    ..BASE
};

const SHELL: Lang = Lang {
    line_comments: &["#"],
    keywords: &[
        "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
        "in", "function", "return", "exit", "export", "local", "readonly", "set", "unset",
        "source", "alias", "break", "continue", "shift", "trap",
    ],
    types: &[
        "echo", "cd", "ls", "cat", "grep", "sed", "awk", "curl", "sudo", "apt", "apt-get", "cargo",
        "npm", "pip", "git", "docker", "printf", "test", "read", "mkdir", "rm", "cp", "mv",
    ],
    literals: &["true", "false"],
    dollar_variables: true,
    ..BASE
};

const JSON: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"'],
    literals: &["true", "false", "null"],
    keys_before_colon: true,
    ..BASE
};

const SQL: Lang = Lang {
    line_comments: &["--"],
    block_comment: Some(("/*", "*/")),
    quotes: &['\'', '"', '`'],
    keywords: &[
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "insert",
        "into",
        "values",
        "update",
        "set",
        "delete",
        "create",
        "table",
        "drop",
        "alter",
        "add",
        "index",
        "on",
        "join",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "group",
        "by",
        "order",
        "having",
        "limit",
        "offset",
        "as",
        "distinct",
        "union",
        "all",
        "in",
        "is",
        "like",
        "between",
        "exists",
        "case",
        "when",
        "then",
        "else",
        "end",
        "primary",
        "key",
        "foreign",
        "references",
        "unique",
        "default",
        "constraint",
        "with",
        "returning",
        "asc",
        "desc",
        "begin",
        "commit",
        "rollback",
        "view",
        "if",
    ],
    types: &[
        "int",
        "integer",
        "bigint",
        "smallint",
        "serial",
        "text",
        "varchar",
        "char",
        "boolean",
        "date",
        "timestamp",
        "timestamptz",
        "numeric",
        "decimal",
        "real",
        "float",
        "double",
        "json",
        "jsonb",
        "uuid",
        "blob",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "coalesce",
        "now",
    ],
    literals: &["true", "false", "null"],
    case_insensitive: true,
    ..BASE
};

const CSS: Lang = Lang {
    block_comment: Some(("/*", "*/")),
    keywords: &["important", "inherit", "initial", "unset", "none", "auto"],
    annotations: true,
    css_rules: true,
    ..BASE
};

#[derive(Debug, Clone, Copy)]
enum Family {
    Generic(&'static Lang),
    Markup,
}

fn family(lang: &str) -> Option<Family> {
    let lang = lang.to_ascii_lowercase();
    Some(Family::Generic(match lang.as_str() {
        "rust" | "rs" => &RUST,
        "python" | "py" | "python3" | "py3" | "gyp" => &PYTHON,
        "javascript" | "js" | "jsx" | "mjs" | "cjs" | "node" | "typescript" | "ts" | "tsx"
        | "mts" => &JAVASCRIPT,
        "java" | "kotlin" | "kt" | "scala" => &JAVA,
        "go" | "golang" => &GO,
        "c" | "h" | "cpp" | "c++" | "cc" | "cxx" | "hpp" | "hh" | "objc" | "cs" | "csharp" => &C,
        "sh" | "bash" | "shell" | "zsh" | "console" | "shellsession" | "ksh" => &SHELL,
        "json" | "jsonc" | "json5" | "jsonl" => &JSON,
        "sql" | "mysql" | "postgresql" | "postgres" | "sqlite" | "plsql" => &SQL,
        "css" | "scss" | "less" => &CSS,
        "html" | "htm" | "xml" | "svg" | "xhtml" | "vue" => return Some(Family::Markup),
        _ => return None,
    }))
}

/// Whether `lang` (a code fence's language) is highlighted.
#[cfg(test)]
pub fn supports(lang: &str) -> bool {
    family(lang).is_some()
}

/// Splits `code` into pieces; unknown languages give one plain piece.
#[cfg(test)]
pub fn highlight<'a>(lang: &str, code: &'a str) -> Vec<Piece<'a>> {
    highlight_synced(lang, code).0
}

/// [`highlight`], and the line starts where the lexer starts afresh (its
/// sync points, in order): no piece spans the newline before one, and
/// highlighting the code from there on gives the same pieces as the
/// whole code does. Lookahead never crosses a newline, so what comes
/// after a sync point cannot change the pieces before it: a code block
/// that grows at its end need only be highlighted again from its last
/// sync point.
pub fn highlight_synced<'a>(lang: &str, code: &'a str) -> (Vec<Piece<'a>>, Vec<usize>) {
    let mut out = Pieces::default();
    let mut sync = Vec::new();
    match family(lang) {
        Some(Family::Generic(l)) => generic(l, code, &mut out, &mut sync),
        Some(Family::Markup) => markup(code, &mut out, &mut sync),
        None => {
            out.push(None, code);
            sync.extend(code.match_indices('\n').map(|(i, _)| i + 1));
            sync.retain(|&i| i < code.len());
        }
    }
    (out.0, sync)
}

#[derive(Default)]
struct Pieces<'a>(Vec<Piece<'a>>);

impl<'a> Pieces<'a> {
    fn push(&mut self, kind: Option<Kind>, s: &'a str) {
        if !s.is_empty() {
            self.0.push((kind, s));
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A cursor over the code with the rest of the text at hand.
struct Source<'a> {
    text: &'a str,
    pos: usize,
    plain_from: usize,
}

impl<'a> Source<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn prev(&self) -> Option<char> {
        self.text[..self.pos].chars().next_back()
    }

    /// The rest of the current line.
    fn rest_of_line(&self) -> &'a str {
        let rest = self.rest();
        &rest[..rest.find('\n').unwrap_or(rest.len())]
    }

    /// Notes a sync point when the lexer is at the start of a line
    /// (`neutral`: it carries no state from the lines before).
    fn sync(&self, neutral: bool, sync: &mut Vec<usize>) {
        if neutral && self.pos > 0 && self.text.as_bytes()[self.pos - 1] == b'\n' {
            sync.push(self.pos);
        }
    }

    fn at_line_start(&self) -> bool {
        self.text[..self.pos]
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim().is_empty())
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn eat_to(&mut self, end: &str) {
        match self.rest().find(end) {
            Some(i) => self.pos += i + end.len(),
            None => self.pos = self.text.len(),
        }
    }

    /// Emits the plain text before `start` and `start..pos` as `kind`.
    fn emit(&mut self, out: &mut Pieces<'a>, start: usize, kind: Option<Kind>) {
        if kind.is_none() {
            // Plain text stays in the current plain run.
            return;
        }
        out.push(None, &self.text[self.plain_from..start]);
        out.push(kind, &self.text[start..self.pos]);
        self.plain_from = self.pos;
    }

    fn finish(&mut self, out: &mut Pieces<'a>) {
        out.push(None, &self.text[self.plain_from..]);
        self.plain_from = self.text.len();
    }

    /// A quoted string from the current quote character, with escapes;
    /// single-line unless `multiline`.
    fn eat_quoted(&mut self, quote: &str, multiline: bool) {
        self.pos += quote.len();
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return;
            }
            if rest.starts_with(quote) {
                self.pos += quote.len();
                return;
            }
            match rest.chars().next() {
                Some('\\') => {
                    self.bump();
                    self.bump();
                }
                Some('\n') if !multiline => return,
                _ => self.bump(),
            }
        }
    }
}

fn generic<'a>(l: &Lang, code: &'a str, out: &mut Pieces<'a>, sync: &mut Vec<usize>) {
    let mut s = Source {
        text: code,
        pos: 0,
        plain_from: 0,
    };
    let mut brace_depth = 0usize;
    while let Some(c) = s.peek() {
        s.sync(brace_depth == 0, sync);
        let start = s.pos;
        let rest = s.rest();
        if l.preprocessor && c == '#' && s.at_line_start() {
            s.eat_to("\n");
            if s.text[..s.pos].ends_with('\n') {
                s.pos -= 1;
            }
            s.emit(out, start, Some(Kind::Meta));
            continue;
        }
        let shell_comment_ok = !l.dollar_variables || s.prev().is_none_or(char::is_whitespace);
        if shell_comment_ok && l.line_comments.iter().any(|m| rest.starts_with(m)) {
            s.eat_while(|c| c != '\n');
            s.emit(out, start, Some(Kind::Comment));
            continue;
        }
        if let Some((open, close)) = l.block_comment {
            if rest.starts_with(open) {
                s.pos += open.len();
                s.eat_to(close);
                s.emit(out, start, Some(Kind::Comment));
                continue;
            }
        }
        if let Some(q) = l.multiline_quotes.iter().find(|q| rest.starts_with(**q)) {
            s.eat_quoted(q, true);
            s.emit(out, start, Some(Kind::String));
            continue;
        }
        if l.quotes.contains(&c) {
            if l.rust_chars && c == '\'' && !rust_char_literal(rest) {
                // A lifetime or label: `'a`.
                s.bump();
                s.eat_while(is_ident);
                s.emit(out, start, Some(Kind::Meta));
                continue;
            }
            let mut q = [0u8; 4];
            s.eat_quoted(c.encode_utf8(&mut q), false);
            let kind = if l.keys_before_colon && after_blanks(s.rest_of_line()).starts_with(':') {
                Kind::Property
            } else {
                Kind::String
            };
            s.emit(out, start, Some(kind));
            continue;
        }
        if c.is_ascii_digit() && !s.prev().is_some_and(is_ident) {
            s.eat_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            s.emit(out, start, Some(Kind::Number));
            continue;
        }
        if l.dollar_variables && c == '$' {
            s.bump();
            if s.peek() == Some('{') {
                s.eat_to("}");
            } else {
                s.eat_while(|c| is_ident(c) || matches!(c, '?' | '@' | '#' | '*'));
            }
            s.emit(out, start, Some(Kind::Variable));
            continue;
        }
        if l.annotations && c == '@' && s.peek_at(1).is_some_and(is_ident_start) {
            s.bump();
            s.eat_while(|c| is_ident(c) || c == '-' || c == '.');
            s.emit(out, start, Some(Kind::Meta));
            continue;
        }
        if l.css_rules {
            // CSS: `name:` inside a rule is a property; `#fff` a number.
            if c == '{' {
                brace_depth += 1;
            } else if c == '}' {
                brace_depth = brace_depth.saturating_sub(1);
            } else if c == '#' && brace_depth > 0 {
                s.bump();
                s.eat_while(|c| c.is_ascii_hexdigit());
                s.emit(out, start, Some(Kind::Number));
                continue;
            } else if brace_depth > 0 && (is_ident_start(c) || c == '-') {
                s.eat_while(|c| is_ident(c) || c == '-');
                let kind = if after_blanks(s.rest_of_line()).starts_with(':') {
                    Some(Kind::Property)
                } else if CSS.keywords.contains(&&s.text[start..s.pos]) {
                    Some(Kind::Keyword)
                } else {
                    None
                };
                s.emit(out, start, kind);
                continue;
            }
        }
        if is_ident_start(c) {
            // Python string prefixes: r"..", f'..', rb"..".
            let word_end = start + rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
            let word = &s.text[start..word_end];
            let after = s.text[word_end..].chars().next();
            if !l.string_prefixes.is_empty()
                && word.len() <= 2
                && word.chars().all(|c| l.string_prefixes.contains(&c))
                && after.is_some_and(|a| l.quotes.contains(&a))
            {
                s.pos = word_end;
                let rest = s.rest();
                if let Some(q) = l.multiline_quotes.iter().find(|q| rest.starts_with(**q)) {
                    s.eat_quoted(q, true);
                } else {
                    let mut q = [0u8; 4];
                    let quote = after.unwrap_or('"');
                    s.eat_quoted(quote.encode_utf8(&mut q), false);
                }
                s.emit(out, start, Some(Kind::String));
                continue;
            }
            if l.rust_chars && word == "r" && matches!(after, Some('#') | Some('"')) {
                // Rust raw string: r"..", r#".."#.
                let hashes = s.text[word_end..].chars().take_while(|c| *c == '#').count();
                let open_end = word_end + hashes;
                if s.text[open_end..].starts_with('"') {
                    s.pos = open_end + 1;
                    let close = format!("\"{}", "#".repeat(hashes));
                    s.eat_to(&close);
                    s.emit(out, start, Some(Kind::String));
                    continue;
                }
            }
            s.pos = word_end;
            let matches = |list: &[&str]| {
                if l.case_insensitive {
                    list.iter().any(|k| k.eq_ignore_ascii_case(word))
                } else {
                    list.contains(&word)
                }
            };
            let kind = if matches(l.keywords) {
                Some(Kind::Keyword)
            } else if matches(l.literals) {
                Some(Kind::Literal)
            } else if matches(l.types) {
                Some(Kind::Type)
            } else {
                None
            };
            if kind.is_some() {
                s.emit(out, start, kind);
            }
            continue;
        }
        s.bump();
    }
    s.finish(out);
}

/// `'x'`, `'\n'`, `'\u{..}'` are char literals; `'a` alone is a lifetime.
fn rust_char_literal(rest: &str) -> bool {
    // `rest` starts with the quote (one byte).
    let mut chars = rest.get(1..).unwrap_or("").chars();
    match chars.next() {
        Some('\\') => true,
        // Never past the end of the line.
        Some('\n') | None => false,
        Some(_) => chars.next() == Some('\''),
    }
}

/// `s` after its leading spaces and tabs.
fn after_blanks(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// HTML and XML: tags, attributes, quoted values, comments.
fn markup<'a>(code: &'a str, out: &mut Pieces<'a>, sync: &mut Vec<usize>) {
    let mut s = Source {
        text: code,
        pos: 0,
        plain_from: 0,
    };
    while let Some(c) = s.peek() {
        s.sync(true, sync);
        let start = s.pos;
        if s.rest().starts_with("<!--") {
            s.eat_to("-->");
            s.emit(out, start, Some(Kind::Comment));
            continue;
        }
        let tag_follows = s
            .peek_at(1)
            .is_some_and(|n| n.is_alphabetic() || matches!(n, '/' | '!' | '?'));
        if c == '<' && tag_follows {
            s.bump();
            s.eat_while(|c| matches!(c, '/' | '!' | '?'));
            s.eat_while(|c| is_ident(c) || matches!(c, '-' | ':'));
            s.emit(out, start, Some(Kind::Tag));
            // Attributes up to the end of the tag.
            while let Some(c) = s.peek() {
                let start = s.pos;
                if c == '>' || s.rest().starts_with("/>") || s.rest().starts_with("?>") {
                    s.eat_while(|c| matches!(c, '/' | '?'));
                    s.bump();
                    s.emit(out, start, Some(Kind::Tag));
                    break;
                }
                if c == '"' || c == '\'' {
                    let mut q = [0u8; 4];
                    s.eat_quoted(c.encode_utf8(&mut q), true);
                    s.emit(out, start, Some(Kind::String));
                } else if is_ident_start(c) {
                    s.eat_while(|c| is_ident(c) || matches!(c, '-' | ':' | '.'));
                    s.emit(out, start, Some(Kind::Attr));
                } else {
                    s.bump();
                }
            }
            continue;
        }
        if c == '&' {
            let entity = s.rest_of_line().find(';').filter(|i| *i <= 10);
            if let Some(i) = entity {
                s.pos += i + 1;
                s.emit(out, start, Some(Kind::Literal));
                continue;
            }
        }
        s.bump();
    }
    s.finish(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(lang: &str, code: &str) -> Vec<(Option<Kind>, String)> {
        let pieces = highlight(lang, code);
        let joined: String = pieces.iter().map(|(_, s)| *s).collect();
        assert_eq!(joined, code, "pieces must give the code back exactly");
        pieces.into_iter().map(|(k, s)| (k, s.to_owned())).collect()
    }

    fn kinds_of(lang: &str, code: &str, kind: Kind) -> Vec<String> {
        classes(lang, code)
            .into_iter()
            .filter(|(k, _)| *k == Some(kind))
            .map(|(_, s)| s)
            .collect()
    }

    #[test]
    fn rust_keywords_strings_comments_lifetimes() {
        let code =
            "fn main<'a>(x: &'a str) -> u8 { let c = '\\n'; // hi\n r#\"raw \"q\"\"# ; 0x1F }";
        assert_eq!(kinds_of("rust", code, Kind::Keyword), ["fn", "let"]);
        assert_eq!(kinds_of("rust", code, Kind::Type), ["str", "u8"]);
        assert_eq!(kinds_of("rust", code, Kind::Meta), ["'a", "'a"]);
        assert_eq!(
            kinds_of("rust", code, Kind::String),
            ["'\\n'", "r#\"raw \"q\"\"#"]
        );
        assert_eq!(kinds_of("rust", code, Kind::Comment), ["// hi"]);
        assert_eq!(kinds_of("rs", code, Kind::Number), ["0x1F"]);
    }

    #[test]
    fn python_prefixed_and_triple_strings() {
        let code =
            "def f(x):\n    \"\"\"doc\nmore\"\"\"\n    return f'{x}' + r\"\\d\" # c\n@dec\nNone";
        assert_eq!(kinds_of("py", code, Kind::Keyword), ["def", "return"]);
        assert_eq!(
            kinds_of("python", code, Kind::String),
            ["\"\"\"doc\nmore\"\"\"", "f'{x}'", "r\"\\d\""]
        );
        assert_eq!(kinds_of("python", code, Kind::Comment), ["# c"]);
        assert_eq!(kinds_of("python", code, Kind::Meta), ["@dec"]);
        assert_eq!(kinds_of("python", code, Kind::Literal), ["None"]);
    }

    #[test]
    fn every_required_language_is_recognized() {
        for lang in [
            "rust",
            "python",
            "javascript",
            "typescript",
            "ts",
            "java",
            "go",
            "c",
            "cpp",
            "c++",
            "bash",
            "sh",
            "shell",
            "json",
            "sql",
            "html",
            "css",
            "xml",
        ] {
            assert!(supports(lang), "{lang}");
        }
        assert!(!supports("brainfuck"));
        assert_eq!(classes("nope", "a < b"), [(None, "a < b".to_owned())]);
    }

    #[test]
    fn js_go_c_java_sql_shell_json_css_html() {
        assert_eq!(
            kinds_of("js", "const s = `a\n${b}`; // x", Kind::String),
            ["`a\n${b}`"]
        );
        assert_eq!(
            kinds_of("ts", "let x: number = null", Kind::Type),
            ["number"]
        );
        assert_eq!(
            kinds_of("go", "func main() { return nil }", Kind::Keyword),
            ["func", "return"]
        );
        assert_eq!(
            kinds_of(
                "c",
                "#include <stdio.h>\nint main() { return 0; }",
                Kind::Meta
            ),
            ["#include <stdio.h>"]
        );
        assert_eq!(
            kinds_of("java", "@Override public void f()", Kind::Meta),
            ["@Override"]
        );
        assert_eq!(
            kinds_of("sql", "SELECT id FROM t WHERE x = 'a' -- c", Kind::Keyword),
            ["SELECT", "FROM", "WHERE"]
        );
        let sh = "echo \"$HOME\" ${PATH} # comment\nls a#b";
        assert_eq!(kinds_of("bash", sh, Kind::Variable), ["${PATH}"]);
        assert_eq!(kinds_of("bash", sh, Kind::Comment), ["# comment"]);
        assert_eq!(
            kinds_of(
                "json",
                "{\"key\": \"value\", \"n\": 1.5e3, \"ok\": true}",
                Kind::Property
            ),
            ["\"key\"", "\"n\"", "\"ok\""]
        );
        assert_eq!(
            kinds_of("css", "a { color: #fff; margin: 0 auto }", Kind::Property),
            ["color", "margin"]
        );
        let html = "<a href=\"x\" data-x='y'>t &amp; u</a><!-- c -->";
        assert_eq!(kinds_of("html", html, Kind::Tag), ["<a", ">", "</a", ">"]);
        assert_eq!(kinds_of("html", html, Kind::Attr), ["href", "data-x"]);
        assert_eq!(kinds_of("html", html, Kind::Comment), ["<!-- c -->"]);
    }

    #[test]
    fn unfinished_code_highlights_as_far_as_it_goes() {
        for (lang, code) in [
            ("rust", "let s = \"unterminated"),
            ("rust", "/* open comment"),
            ("python", "x = '''open"),
            ("html", "<div class=\"a"),
            ("bash", "echo ${HOME"),
            ("rust", "'"),
            ("c", "#"),
            ("json", "{\"a"),
        ] {
            classes(lang, code);
        }
    }
}
