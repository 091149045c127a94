//! Text as the search index sees it, and people's queries as FTS5 understands them.
//!
//! SQLite's `unicode61` tokenizer splits words at spaces and punctuation. Chinese
//! and Japanese are written without spaces, and emoji sit next to words, so the
//! store splits those into one-character words before indexing (joined by a
//! zero-width space, which the tokenizer treats as a separator and snippets drop).
//! A query goes through the same split, so "你好" becomes the phrase "你 好" and
//! matches wherever the two characters stand together.

use crate::StoreError;

/// Separator inserted around split characters: invisible, and not a word character.
pub const SEPARATOR: char = '\u{200B}';

/// Chinese, Japanese (kana) and emoji characters: each is a word of its own.
pub fn is_split_char(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF        // CJK radicals
        | 0x3005..=0x3007      // 々 〆 〇
        | 0x3040..=0x30FF      // hiragana, katakana
        | 0x3100..=0x312F      // bopomofo
        | 0x31F0..=0x31FF      // katakana extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0x20000..=0x3134F    // CJK extensions B..G
        | 0x2600..=0x27BF      // miscellaneous symbols, dingbats
        | 0x2B00..=0x2BFF      // arrows and stars used as emoji
        | 0x1F000..=0x1F3FA    // mahjong .. symbols and pictographs
        | 0x1F400..=0x1FAFF    // pictographs, emoticons, transport, supplemental
    )
}

/// Emoji joiners and modifiers: dropped, so "👍🏽" is found by "👍".
fn is_joiner(c: char) -> bool {
    matches!(c as u32, 0xFE0E | 0xFE0F | 0x200D | 0x1F3FB..=0x1F3FF | 0x20E3)
}

/// The text to index, or `None` when it is the text itself (the common case).
pub fn index_text(text: &str) -> Option<String> {
    if !text.chars().any(|c| is_split_char(c) || is_joiner(c)) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_joiner(c) {
            out.push(SEPARATOR);
        } else if is_split_char(c) {
            out.push(SEPARATOR);
            out.push(c);
            out.push(SEPARATOR);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Remove the separators [`index_text`] added, for showing a snippet.
pub fn strip_separators(text: &str) -> String {
    text.chars().filter(|&c| c != SEPARATOR).collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Term { text: String, prefix: bool, phrase: bool },
    And,
    Or,
    Not,
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Term(String),
    And(Vec<Expr>, Vec<Expr>),
    Or(Vec<Expr>),
}

/// Turn a person's query into an FTS5 expression.
///
/// Understood: words (all must match), `"exact phrases"`, `prefix*`, `OR`,
/// `AND`, `NOT` or `-word`, and parentheses. Everything else is taken literally,
/// so no query can be an FTS5 syntax error or reach another column.
pub fn fts_query(input: &str) -> Result<String, StoreError> {
    let tokens = lex(input);
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.or_expr()?;
    match expr {
        Some(expr) => render(&expr),
        None => Err(StoreError::InvalidInput(
            "The search has no words to look for. Type at least one word, phrase or emoji.".into(),
        )),
    }
}

fn lex(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
            tokens.push(Token::Term {
                text,
                prefix: false,
                phrase: true,
            });
        } else if c == '(' || c == ')' {
            chars.next();
            tokens.push(if c == '(' { Token::Open } else { Token::Close });
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' || c == '(' || c == ')' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word_token(&word));
        }
    }
    tokens
}

fn word_token(word: &str) -> Token {
    match word {
        "AND" => Token::And,
        "OR" => Token::Or,
        "NOT" => Token::Not,
        _ => {
            if let Some(rest) = word.strip_prefix('-').filter(|r| !r.is_empty()) {
                // "-word" is "NOT word"; the parser sees a Not then the term.
                return Token::Term {
                    text: format!("\u{0}{rest}"),
                    prefix: false,
                    phrase: false,
                };
            }
            let prefix = word.ends_with('*');
            let text = word.trim_end_matches('*').to_owned();
            Token::Term {
                text,
                prefix,
                phrase: false,
            }
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn or_expr(&mut self) -> Result<Option<Expr>, StoreError> {
        let mut alternatives = Vec::new();
        loop {
            if let Some(e) = self.and_expr()? {
                alternatives.push(e);
            }
            if self.peek() == Some(&Token::Or) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Expr::Or(alternatives)),
        })
    }

    fn and_expr(&mut self) -> Result<Option<Expr>, StoreError> {
        let mut positive = Vec::new();
        let mut negative = Vec::new();
        let mut negate_next = false;
        while let Some(token) = self.peek().cloned() {
            match token {
                Token::Or | Token::Close => break,
                Token::And => self.pos += 1,
                Token::Not => {
                    self.pos += 1;
                    negate_next = true;
                }
                Token::Open => {
                    self.pos += 1;
                    let inner = self.or_expr()?;
                    if self.peek() == Some(&Token::Close) {
                        self.pos += 1;
                    }
                    if let Some(inner) = inner {
                        push(&mut positive, &mut negative, inner, negate_next);
                    }
                    negate_next = false;
                }
                Token::Term { text, prefix, phrase } => {
                    self.pos += 1;
                    let (text, negated) = match text.strip_prefix('\u{0}') {
                        Some(rest) => (rest.to_owned(), true),
                        None => (text, false),
                    };
                    if let Some(term) = term(&text, prefix, phrase) {
                        push(&mut positive, &mut negative, term, negate_next || negated);
                    }
                    negate_next = false;
                }
            }
        }
        if positive.is_empty() {
            if negative.is_empty() {
                return Ok(None);
            }
            return Err(StoreError::InvalidInput(
                "A search cannot only exclude words: add a word to look for before NOT or -word.".into(),
            ));
        }
        if positive.len() == 1 && negative.is_empty() {
            return Ok(positive.pop());
        }
        Ok(Some(Expr::And(positive, negative)))
    }
}

fn push(positive: &mut Vec<Expr>, negative: &mut Vec<Expr>, expr: Expr, negated: bool) {
    if negated {
        negative.push(expr);
    } else {
        positive.push(expr);
    }
}

/// A quoted FTS5 string for one word or phrase; `None` when it has no word characters.
fn term(text: &str, prefix: bool, phrase: bool) -> Option<Expr> {
    let has_word = text
        .chars()
        .any(|c| c.is_alphanumeric() || is_split_char(c) || !c.is_ascii());
    if !has_word {
        return None;
    }
    let prepared = index_text(text).unwrap_or_else(|| text.to_owned());
    let quoted = format!("\"{}\"", prepared.replace('"', "\"\""));
    // A prefix of a CJK phrase is the phrase: each character is a word already.
    let prefix = prefix && !phrase && !text.chars().any(is_split_char);
    Some(Expr::Term(if prefix { quoted + "*" } else { quoted }))
}

fn render(expr: &Expr) -> Result<String, StoreError> {
    Ok(match expr {
        Expr::Term(t) => t.clone(),
        Expr::Or(alternatives) => {
            let parts: Result<Vec<_>, _> = alternatives.iter().map(render).collect();
            format!("({})", parts?.join(" OR "))
        }
        Expr::And(positive, negative) => {
            let parts: Result<Vec<_>, _> = positive.iter().map(render).collect();
            let mut out = format!("({})", parts?.join(" AND "));
            for n in negative {
                out = format!("({out} NOT {})", render(n)?);
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_indexed_as_it_is() {
        assert_eq!(index_text("hola, ¿qué tal?"), None);
        assert_eq!(index_text("नमस्ते दोस्त"), None);
    }

    #[test]
    fn cjk_and_emoji_become_single_words() {
        let s = index_text("你好world🎉").expect("split");
        assert_eq!(strip_separators(&s), "你好world🎉");
        assert_eq!(s.matches(SEPARATOR).count(), 6);
        // Skin tone and variation selectors are dropped from the index.
        assert!(!index_text("👍🏽").expect("split").contains('\u{1F3FD}'));
    }

    #[test]
    fn queries_become_safe_fts_expressions() {
        assert_eq!(fts_query("pizza").expect("q"), "\"pizza\"");
        assert_eq!(fts_query("pizza party").expect("q"), "(\"pizza\" AND \"party\")");
        assert_eq!(fts_query("piz*").expect("q"), "\"piz\"*");
        assert_eq!(fts_query("\"see you\"").expect("q"), "\"see you\"");
        assert_eq!(fts_query("a OR b").expect("q"), "(\"a\" OR \"b\")");
        assert_eq!(fts_query("a -b").expect("q"), "((\"a\") NOT \"b\")");
        assert_eq!(fts_query("a NOT b").expect("q"), "((\"a\") NOT \"b\")");
        assert_eq!(fts_query("(a OR b) c").expect("q"), "((\"a\" OR \"b\") AND \"c\")");
        // Quotes, column filters and stray operators are taken literally.
        assert_eq!(fts_query("body:x\"").expect("q"), "\"body:x\"");
        assert_eq!(fts_query("tags : c1").expect("q"), "(\"tags\" AND \"c1\")");
        assert!(fts_query("").is_err());
        assert!(fts_query("!!! ??").is_err());
        assert!(fts_query("-only").is_err());
        assert!(fts_query("OR AND (").is_err());
    }

    #[test]
    fn cjk_query_is_a_phrase_of_characters() {
        let q = fts_query("你好").expect("q");
        assert_eq!(q, format!("\"{SEPARATOR}你{SEPARATOR}{SEPARATOR}好{SEPARATOR}\""));
    }
}
