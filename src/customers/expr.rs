//! The condition language of `[[segment]] when = "…"`: comparisons of a
//! contact's scores and fields joined by `and`, `or` and `not`, with
//! parentheses, numbers and quoted strings:
//!
//! ```text
//! clv >= 200 and p_alive < 0.3
//! rfm_segment == "champions" or (orders > 3 and not days_since_order < 30)
//! field.country == "DE" and field.tier >= 2
//! ```
//!
//! Names are the scores ([`Name`]) and imported columns as `field.NAME`.
//! Parsed and type-checked once, when the configuration is loaded: unknown
//! names and type errors are errors with the column. A comparison with a
//! value the contact lacks (no P(alive) before the model fits, a missing
//! column, a column that is not a number compared with one) is false.
//! A condition holds at most [`MAX_TOKENS`] tokens and nests brackets and
//! `not` at most [`MAX_DEPTH`] deep, so that parsing, evaluating and
//! dropping it never exhaust the stack.

use std::fmt;

/// Most tokens (names, numbers, strings, operators, brackets) in one condition.
pub const MAX_TOKENS: usize = 1000;

/// Deepest nesting of brackets and `not` in one condition.
pub const MAX_DEPTH: usize = 64;

/// A checked condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// A comparison.
    Cmp(Op, Operand, Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// A score or summary figure.
    Name(Name),
    /// An imported column (`field.NAME`).
    Field(String),
}

macro_rules! names {
    ($($variant:ident $text:literal $kind:ident $doc:literal,)*) => {
        /// The names a condition can use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Name {
            $(#[doc = $doc] $variant,)*
        }
        impl Name {
            /// Every name, as written.
            pub const ALL: &[(&str, Name)] = &[$(($text, Name::$variant),)*];
            fn kind(self) -> Kind {
                match self { $(Name::$variant => Kind::$kind,)* }
            }
        }
    };
}

names! {
    RfmSegment "rfm_segment" Str "The named RFM segment.",
    R "r" Num "Recency score 1–5.",
    F "f" Num "Frequency score 1–5.",
    M "m" Num "Monetary score 1–5.",
    PAlive "p_alive" Num "P(alive), 0–1.",
    Clv "clv" Num "Customer lifetime value.",
    ExpectedPurchases "expected_purchases" Num "Expected purchases in the configured period.",
    Orders "orders" Num "Orders recorded.",
    DaysSinceOrder "days_since_order" Num "Days since the last order.",
    TotalSpent "total_spent" Num "Sum of the order values.",
    AverageOrder "average_order" Num "Mean order value.",
    TypicalGap "typical_gap" Num "The typical gap between orders, in days.",
}

/// A value of a name for one contact.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A number.
    Num(f64),
    /// A string.
    Str(&'a str),
}

/// What a condition is evaluated against.
pub trait Env {
    /// The value of a name, `None` when the contact lacks it.
    fn name(&self, n: Name) -> Option<Value<'_>>;
    /// An imported column.
    fn field(&self, column: &str) -> Option<&str>;
}

/// A condition that does not parse or check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct ExprError {
    /// 1-based column in the condition.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Str,
    /// A column: a string that compares as a number with numbers.
    Field,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(Op),
    LParen,
    RParen,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Op(_) => f.write_str("a comparison operator"),
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
            Tok::End => f.write_str("the end"),
        }
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError { column, message: message.into() })
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    // The column of the character at index `i` (counted in characters).
    let col = |i: usize| i + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        let start = i;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '"' | '\'' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i].1 != c {
                    s.push(chars[i].1);
                    i += 1;
                }
                if i == chars.len() {
                    return err(col(start), format!("the string is not closed; end it with {c}"));
                }
                Tok::Str(s)
            }
            '=' | '!' | '<' | '>' => {
                let two = chars.get(i + 1).is_some_and(|n| n.1 == '=');
                let op = match (c, two) {
                    ('=', true) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', true) => Op::Le,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    ('>', false) => Op::Gt,
                    _ => return err(col(start), format!("`{c}` alone is not an operator; write == != < <= > >=")),
                };
                i += usize::from(two);
                Tok::Op(op)
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' => {
                while i + 1 < chars.len() && (chars[i + 1].1.is_ascii_digit() || chars[i + 1].1 == '.') {
                    i += 1;
                }
                let text: String = chars[start..=i].iter().map(|c| c.1).collect();
                match text.parse::<f64>() {
                    Ok(n) if n.is_finite() => Tok::Num(n),
                    _ => return err(col(start), format!("`{text}` is not a number")),
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                while i + 1 < chars.len() && {
                    let n = chars[i + 1].1;
                    n.is_alphanumeric() || n == '_' || n == '.' || n == '-'
                } {
                    i += 1;
                }
                Tok::Ident(chars[start..=i].iter().map(|c| c.1).collect())
            }
            c => return err(col(start), format!("unexpected `{c}`")),
        };
        if out.len() == MAX_TOKENS {
            return err(
                col(start),
                format!("the condition is too long (over {MAX_TOKENS} tokens); split it into segments"),
            );
        }
        out.push((col(start), tok));
        i += 1;
    }
    out.push((col(chars.len()), Tok::End));
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    /// Brackets and `not` open around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &(usize, Tok) {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn keyword(&mut self, k: &str) -> bool {
        if matches!(&self.peek().1, Tok::Ident(s) if s == k) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.and()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.not()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        let column = self.peek().0;
        if self.keyword("not") {
            let e = self.nested(column, Self::not)?;
            return Ok(Expr::Not(Box::new(e)));
        }
        if self.peek().1 == Tok::LParen {
            self.pos += 1;
            let e = self.nested(column, Self::or)?;
            return match self.next() {
                (_, Tok::RParen) => Ok(e),
                (c, t) => err(c, format!("expected `)`, found {t}")),
            };
        }
        self.comparison()
    }

    /// `inner` one level deeper, refused past [`MAX_DEPTH`].
    fn nested(&mut self, column: usize, inner: fn(&mut Self) -> Result<Expr, ExprError>) -> Result<Expr, ExprError> {
        if self.depth == MAX_DEPTH {
            return err(column, format!("brackets and `not` nest more than {MAX_DEPTH} deep; simplify the condition"));
        }
        self.depth += 1;
        let e = inner(self);
        self.depth -= 1;
        e
    }

    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let (_, left, lk) = self.operand()?;
        let (oc, op) = match self.next() {
            (c, Tok::Op(op)) => (c, op),
            (c, t) => {
                return err(c, format!("expected a comparison (== != < <= > >=) after the operand, found {t}"));
            }
        };
        let (_, right, rk) = self.operand()?;
        match (lk, rk) {
            (Kind::Num, Kind::Str) | (Kind::Str, Kind::Num) => {
                err(oc, "a number is compared with a string; compare numbers with numbers and strings with strings")
            }
            (Kind::Str, Kind::Str) | (Kind::Str, Kind::Field) | (Kind::Field, Kind::Str)
                if !matches!(op, Op::Eq | Op::Ne) =>
            {
                err(oc, "strings compare only with == and !=")
            }
            _ => Ok(Expr::Cmp(op, left, right)),
        }
    }

    fn operand(&mut self) -> Result<(usize, Operand, Kind), ExprError> {
        let (c, t) = self.next();
        match t {
            Tok::Num(n) => Ok((c, Operand::Num(n), Kind::Num)),
            Tok::Str(s) => Ok((c, Operand::Str(s), Kind::Str)),
            Tok::Ident(id) => {
                if let Some(col) = id.strip_prefix("field.").or_else(|| id.strip_prefix("fields.")) {
                    if col.is_empty() {
                        return err(c, "`field.` needs a column name, like field.country");
                    }
                    return Ok((c, Operand::Field(col.to_string()), Kind::Field));
                }
                match Name::ALL.iter().find(|(s, _)| *s == id) {
                    Some((_, n)) => Ok((c, Operand::Name(*n), n.kind())),
                    None => {
                        let known: Vec<&str> = Name::ALL.iter().map(|(s, _)| *s).collect();
                        err(
                            c,
                            format!(
                                "unknown name `{id}`; known are {}, and imported columns as field.NAME",
                                known.join(", ")
                            ),
                        )
                    }
                }
            }
            t => err(c, format!("expected a name, a number or a string, found {t}")),
        }
    }
}

/// Parses and checks a condition.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut p = Parser { toks: lex(src)?, pos: 0, depth: 0 };
    if p.peek().1 == Tok::End {
        return err(1, "the condition is empty");
    }
    let e = p.or()?;
    match p.next() {
        (_, Tok::End) => Ok(e),
        (c, t) => err(c, format!("expected `and`, `or` or the end, found {t}")),
    }
}

enum Val<'a> {
    Num(f64),
    Str(&'a str),
    Field(&'a str),
}

fn value<'a>(o: &'a Operand, env: &'a dyn Env) -> Option<Val<'a>> {
    Some(match o {
        Operand::Num(n) => Val::Num(*n),
        Operand::Str(s) => Val::Str(s),
        Operand::Name(n) => match env.name(*n)? {
            Value::Num(x) => Val::Num(x),
            Value::Str(s) => Val::Str(s),
        },
        Operand::Field(f) => Val::Field(env.field(f)?),
    })
}

fn compare<T: PartialOrd + ?Sized>(op: Op, a: &T, b: &T) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

impl Expr {
    /// Whether the condition holds for `env`.
    pub fn eval(&self, env: &dyn Env) -> bool {
        match self {
            Expr::And(a, b) => a.eval(env) && b.eval(env),
            Expr::Or(a, b) => a.eval(env) || b.eval(env),
            Expr::Not(a) => !a.eval(env),
            Expr::Cmp(op, l, r) => {
                let (Some(a), Some(b)) = (value(l, env), value(r, env)) else { return false };
                let num = |v: &Val<'_>| match v {
                    Val::Num(n) => Some(*n),
                    Val::Field(s) => s.trim().parse::<f64>().ok(),
                    Val::Str(_) => None,
                };
                match (&a, &b) {
                    (Val::Str(x) | Val::Field(x), Val::Str(y)) | (Val::Str(x), Val::Field(y)) => compare(*op, *x, *y),
                    (Val::Field(x), Val::Field(y)) => match (num(&a), num(&b)) {
                        (Some(p), Some(q)) => compare(*op, &p, &q),
                        _ => compare(*op, *x, *y),
                    },
                    _ => match (num(&a), num(&b)) {
                        (Some(p), Some(q)) => compare(*op, &p, &q),
                        _ => false,
                    },
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
