//! Indicator formulas: the small language a plan uses to say how an indicator is
//! computed from report fields, its parser and canonical printer, the check that a
//! formula only names numeric fields of the form, target comparison, and a pure
//! evaluator over per-unit field values. The evaluator is the reference semantics:
//! the SQL that compiles indicators over thousands of units must give the same
//! numbers, and the unit tests here pin those numbers down.
//!
//! Two shapes cover the plan's indicators and most national gender indicators:
//!
//! * ratio of sums — `sum(trained_political_female + trained_professional_female) /
//!   sum(trained_political_total + trained_professional_total)`;
//! * share of units meeting a condition — `count(leaders_female >= 1) / count()`.
//!
//! The language is deliberately not general arithmetic: a fixed set of shapes can be
//! compiled to one aggregate query, explained to a non-programmer, and can report
//! which units fall short, which an arbitrary expression could not.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Tolerance when comparing a value with its target. Values are fractions computed
/// in floating point (1/3 + … may land a hair below an exact target), and a target of
/// 100 % must be met by a value of exactly 1.0 however it was reached.
pub const TARGET_TOLERANCE: f64 = 1e-9;

/// A comparison operator in a unit-share condition. Serialized as its symbol.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
pub enum CmpOp {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Ge,
        CmpOp::Gt,
        CmpOp::Le,
        CmpOp::Lt,
        CmpOp::Eq,
        CmpOp::Ne,
    ];

    /// The symbol as written in formulas and stored in PostgreSQL.
    pub fn as_str(&self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    /// The equivalent SQL operator, for compiling a condition into a query.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
        }
    }

    /// Whether `l OP r` holds. Comparison is exact, as it is in SQL: thresholds are
    /// typed by people ("at least 1 woman"), not computed.
    pub fn holds(self, l: f64, r: f64) -> bool {
        match self {
            CmpOp::Ge => l >= r,
            CmpOp::Gt => l > r,
            CmpOp::Le => l <= r,
            CmpOp::Lt => l < r,
            CmpOp::Eq => l == r,
            CmpOp::Ne => l != r,
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CmpOp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CmpOp::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown comparison operator `{s}`"))
    }
}

/// Which side of the target counts as meeting it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The value must reach the target (e.g. women's share of leaders ≥ 100 %).
    AtLeast,
    /// The value must stay at or under the target (e.g. a share of cases ≤ 5 %).
    AtMost,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::AtLeast, Direction::AtMost];

    /// The text stored in PostgreSQL and used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::AtLeast => "at_least",
            Direction::AtMost => "at_most",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Direction::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown target direction `{s}`"))
    }
}

/// Whether `value` meets `target` in `direction`; both are fractions (1.0 = 100 %).
/// `None` when there is no value to judge (e.g. a zero denominator): "not computable"
/// must not be reported as either met or missed.
pub fn met(value: Option<f64>, target: f64, direction: Direction) -> Option<bool> {
    let v = value?;
    Some(match direction {
        Direction::AtLeast => v >= target - TARGET_TOLERANCE,
        Direction::AtMost => v <= target + TARGET_TOLERANCE,
    })
}

/// A parsed indicator formula. Build it with [`parse`]; its `Display` is the
/// canonical text, which parses back to an equal value.
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Formula {
    /// `sum(n1 + n2 + …) / sum(d1 + d2 + …)`, summed over every unit's report.
    RatioOfSums {
        numerator: Vec<String>,
        denominator: Vec<String>,
    },
    /// `count(field OP threshold) / count()`: the share of reports whose field meets
    /// the condition.
    UnitShare {
        field: String,
        op: CmpOp,
        threshold: f64,
    },
}

impl Formula {
    /// The distinct fields the formula reads, in order of first appearance, so the
    /// caller can check them against the report form.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let names: Box<dyn Iterator<Item = &String>> = match self {
            Formula::RatioOfSums {
                numerator,
                denominator,
            } => Box::new(numerator.iter().chain(denominator.iter())),
            Formula::UnitShare { field, .. } => Box::new(std::iter::once(field)),
        };
        for name in names {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
        out
    }

    /// Checks every field against the form; `is_numeric` answers whether a code names
    /// a numeric field (integer, decimal or money). The error names the first field
    /// that fails, in formula order.
    pub fn check_fields(&self, is_numeric: impl Fn(&str) -> bool) -> Result<(), String> {
        match self.fields().into_iter().find(|f| !is_numeric(f)) {
            Some(bad) => Err(format!(
                "field `{bad}` is not a numeric field of the report form"
            )),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Formula::RatioOfSums {
                numerator,
                denominator,
            } => write!(
                f,
                "sum({}) / sum({})",
                numerator.join(" + "),
                denominator.join(" + ")
            ),
            // `f64`'s Display never uses exponent notation and prints the shortest
            // text that reads back to the same value, so the grammar's plain
            // decimals round-trip exactly.
            Formula::UnitShare {
                field,
                op,
                threshold,
            } => write!(f, "count({field} {op} {threshold}) / count()"),
        }
    }
}

impl FromStr for Formula {
    type Err = FormulaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Why a formula failed to parse, and where: `position` is a byte offset into the
/// source (the length of the source when the text ended too early).
#[derive(Serialize, Clone, Debug, PartialEq, Eq, ToSchema)]
pub struct FormulaError {
    pub position: usize,
    pub message: String,
}

impl FormulaError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        FormulaError {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.position)
    }
}

impl std::error::Error for FormulaError {}

// ---------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Number(f64),
    LParen,
    RParen,
    Plus,
    Slash,
    Op(CmpOp),
    End,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    /// Byte offset of the token's first character.
    pos: usize,
    /// The source text of the token, for error messages.
    text: &'a str,
}

impl Token<'_> {
    /// How the token is named in "found …" messages.
    fn describe(&self) -> String {
        match self.tok {
            Tok::End => "end of formula".to_owned(),
            Tok::Number(_) => format!("number `{}`", self.text),
            Tok::Ident(_) => format!("name `{}`", self.text),
            _ => format!("`{}`", self.text),
        }
    }
}

/// Consumes the characters satisfying `pred` and returns the byte offset just past
/// them (`len`, the source length, when the run reaches the end).
fn run_end(chars: &mut Peekable<CharIndices<'_>>, len: usize, pred: fn(char) -> bool) -> usize {
    while let Some(&(i, ch)) = chars.peek() {
        if !pred(ch) {
            return i;
        }
        chars.next();
    }
    len
}

fn lex(src: &str) -> Result<Vec<Token<'_>>, FormulaError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        let simple = |tok: Tok<'static>, len: usize| Token {
            tok,
            pos,
            text: src.get(pos..pos + len).unwrap_or(""),
        };
        match c {
            // Any Unicode space, since formulas are often pasted from documents that
            // use non-breaking spaces.
            c if c.is_whitespace() => {
                chars.next();
            }
            'a'..='z' => {
                let end = run_end(
                    &mut chars,
                    src.len(),
                    |ch| matches!(ch, 'a'..='z' | '0'..='9' | '_'),
                );
                let text = src.get(pos..end).unwrap_or("");
                out.push(Token {
                    tok: Tok::Ident(text),
                    pos,
                    text,
                });
            }
            '0'..='9' => {
                let mut end = run_end(&mut chars, src.len(), |ch| ch.is_ascii_digit());
                if let Some(&(dot, '.')) = chars.peek() {
                    chars.next();
                    end = run_end(&mut chars, src.len(), |ch| ch.is_ascii_digit());
                    if end == dot + 1 {
                        return Err(FormulaError::new(end, "expected digits after `.`"));
                    }
                }
                let text = src.get(pos..end).unwrap_or("");
                let value: f64 = text
                    .parse()
                    .map_err(|_| FormulaError::new(pos, format!("invalid number `{text}`")))?;
                // Hundreds of digits parse to infinity; refuse rather than compare with ∞.
                if !value.is_finite() {
                    return Err(FormulaError::new(
                        pos,
                        format!("number `{text}` is too large"),
                    ));
                }
                out.push(Token {
                    tok: Tok::Number(value),
                    pos,
                    text,
                });
            }
            '(' | ')' | '+' | '/' => {
                chars.next();
                let tok = match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '+' => Tok::Plus,
                    _ => Tok::Slash,
                };
                out.push(simple(tok, 1));
            }
            '>' | '<' | '=' | '!' => {
                chars.next();
                let followed_by_eq = matches!(chars.peek(), Some(&(_, '=')));
                if followed_by_eq {
                    chars.next();
                }
                let op = match (c, followed_by_eq) {
                    ('>', true) => CmpOp::Ge,
                    ('>', false) => CmpOp::Gt,
                    ('<', true) => CmpOp::Le,
                    ('<', false) => CmpOp::Lt,
                    ('=', true) => CmpOp::Eq,
                    ('!', true) => CmpOp::Ne,
                    ('=', false) => {
                        return Err(FormulaError::new(pos, "unexpected `=`; equality is `==`"));
                    }
                    _ => {
                        return Err(FormulaError::new(pos, "unexpected `!`; inequality is `!=`"));
                    }
                };
                out.push(simple(Tok::Op(op), if followed_by_eq { 2 } else { 1 }));
            }
            c if c.is_ascii_uppercase() => {
                return Err(FormulaError::new(
                    pos,
                    format!("unexpected `{c}`: field names and functions are lower case"),
                ));
            }
            '-' => {
                return Err(FormulaError::new(
                    pos,
                    "unexpected `-`: only `+` between fields and non-negative numbers are allowed",
                ));
            }
            c => {
                return Err(FormulaError::new(
                    pos,
                    format!("unexpected character `{c}`"),
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::End,
        pos: src.len(),
        text: "",
    });
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    i: usize,
    end: Token<'a>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token<'a> {
        // The lexer always appends `End`; falling back to it keeps this total.
        self.toks.get(self.i).copied().unwrap_or(self.end)
    }

    fn bump(&mut self) -> Token<'a> {
        let t = self.peek();
        if t.tok != Tok::End {
            self.i += 1;
        }
        t
    }

    fn error(&self, expected: &str) -> FormulaError {
        let t = self.peek();
        FormulaError::new(
            t.pos,
            format!("expected {expected}, found {}", t.describe()),
        )
    }

    /// Consumes a token equal to `want`, or fails naming it as `expected`.
    fn expect(&mut self, want: Tok<'_>, expected: &str) -> Result<(), FormulaError> {
        if self.peek().tok == want {
            self.bump();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn keyword(&mut self, word: &str) -> Result<(), FormulaError> {
        self.expect(Tok::Ident(word), &format!("`{word}`"))
    }

    fn field(&mut self) -> Result<String, FormulaError> {
        match self.peek().tok {
            Tok::Ident(name) => {
                self.bump();
                Ok(name.to_owned())
            }
            _ => Err(self.error("a field name")),
        }
    }

    /// `( field ( + field )* )`, with no field repeated: `sum(a + a)` is almost
    /// certainly a typo for another field, and rejecting it keeps the meaning of a
    /// sum independent of whether the SQL de-duplicates its columns.
    fn sum_terms(&mut self) -> Result<Vec<String>, FormulaError> {
        self.expect(Tok::LParen, "`(`")?;
        let mut terms: Vec<String> = Vec::new();
        loop {
            let at = self.peek().pos;
            let name = self.field()?;
            if terms.contains(&name) {
                return Err(FormulaError::new(
                    at,
                    format!("field `{name}` appears twice in the same sum"),
                ));
            }
            terms.push(name);
            match self.peek().tok {
                Tok::Plus => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(terms);
                }
                _ => return Err(self.error("`+` or `)`")),
            }
        }
    }

    fn formula(&mut self) -> Result<Formula, FormulaError> {
        let f = match self.peek().tok {
            Tok::Ident("sum") => {
                self.bump();
                let numerator = self.sum_terms()?;
                self.expect(Tok::Slash, "`/`")?;
                self.keyword("sum")?;
                let denominator = self.sum_terms()?;
                Formula::RatioOfSums {
                    numerator,
                    denominator,
                }
            }
            Tok::Ident("count") => {
                self.bump();
                self.expect(Tok::LParen, "`(`")?;
                let field = self.field()?;
                let op = match self.peek().tok {
                    Tok::Op(op) => {
                        self.bump();
                        op
                    }
                    _ => return Err(self.error("a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`)")),
                };
                let threshold = match self.peek().tok {
                    Tok::Number(n) => {
                        self.bump();
                        n
                    }
                    _ => return Err(self.error("a number")),
                };
                self.expect(Tok::RParen, "`)`")?;
                self.expect(Tok::Slash, "`/`")?;
                self.keyword("count")?;
                self.expect(Tok::LParen, "`(`")?;
                self.expect(Tok::RParen, "`)`")?;
                Formula::UnitShare {
                    field,
                    op,
                    threshold,
                }
            }
            _ => return Err(self.error("`sum` or `count`")),
        };
        self.expect(Tok::End, "end of formula")?;
        Ok(f)
    }
}

/// Parses a formula. Whitespace is insignificant; field names are
/// `[a-z][a-z0-9_]*`; numbers are non-negative decimals (`1`, `0.5`).
pub fn parse(src: &str) -> Result<Formula, FormulaError> {
    let toks = lex(src)?;
    let end = Token {
        tok: Tok::End,
        pos: src.len(),
        text: "",
    };
    Parser { toks, i: 0, end }.formula()
}

// ---------------------------------------------------------------------------------
// Evaluation

/// One unit's report as the evaluator sees it: its code and its field values
/// (the report's JSON object of field code → value).
#[derive(Clone, Copy, Debug)]
pub struct UnitRow<'a> {
    pub unit_code: &'a str,
    pub values: &'a serde_json::Map<String, serde_json::Value>,
}

/// A compiled indicator value.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct IndicatorValue {
    /// numerator / denominator as a fraction (1.0 = 100 %); null when not computable.
    /// Always present, so it is marked required even though it may be null.
    #[schema(required = true)]
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    /// Why `value` is null ("denominator is zero", "no reports").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For unit shares, the codes of the units that do not meet the condition
    /// (including those that left the field empty), sorted; empty for ratios.
    pub units_short: Vec<String>,
}

/// `numerator / denominator`, or no value and the reason. Never yields NaN or an
/// infinity, so callers can serialise the result as JSON without checks.
pub fn ratio(numerator: f64, denominator: f64) -> (Option<f64>, Option<String>) {
    if denominator == 0.0 {
        return (None, Some("denominator is zero".to_owned()));
    }
    let v = numerator / denominator;
    if v.is_finite() {
        (Some(v), None)
    } else {
        // Only reachable when sums overflow f64 or are already non-finite.
        (None, Some("value is not a finite number".to_owned()))
    }
}

/// A field's numeric value in a report: JSON numbers only. Null, missing and
/// non-numeric values yield `None` (the SQL mirrors this with
/// `jsonb_typeof(v) = 'number'`, so a string "5" does not count as 5).
fn number(values: &serde_json::Map<String, serde_json::Value>, field: &str) -> Option<f64> {
    values.get(field).and_then(serde_json::Value::as_f64)
}

/// Evaluates `f` over the given reports — the reference semantics for the SQL.
///
/// * Ratio of sums: each side is the total over rows of its fields, an empty or
///   non-numeric value counting 0.
/// * Unit share: the denominator is the number of rows; the numerator counts rows
///   whose field is a number meeting the condition. Every other row — including one
///   that left the field empty — is short.
pub fn evaluate(f: &Formula, rows: &[UnitRow<'_>]) -> IndicatorValue {
    match f {
        Formula::RatioOfSums {
            numerator,
            denominator,
        } => {
            let total = |fields: &[String]| -> f64 {
                rows.iter()
                    .flat_map(|r| {
                        fields
                            .iter()
                            .map(move |fld| number(r.values, fld).unwrap_or(0.0))
                    })
                    .sum()
            };
            let (num, den) = (total(numerator), total(denominator));
            let (value, reason) = ratio(num, den);
            IndicatorValue {
                value,
                numerator: num,
                denominator: den,
                reason,
                units_short: Vec::new(),
            }
        }
        Formula::UnitShare {
            field,
            op,
            threshold,
        } => {
            let mut hits = 0usize;
            let mut units_short: Vec<String> = Vec::new();
            for r in rows {
                match number(r.values, field) {
                    Some(v) if op.holds(v, *threshold) => hits += 1,
                    _ => units_short.push(r.unit_code.to_owned()),
                }
            }
            units_short.sort();
            // Counts are far below 2^53, so the conversions are exact.
            let (num, den) = (hits as f64, rows.len() as f64);
            let (value, reason) = if rows.is_empty() {
                (None, Some("no reports".to_owned()))
            } else {
                ratio(num, den)
            };
            IndicatorValue {
                value,
                numerator: num,
                denominator: den,
                reason,
                units_short,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    const LEADERS: &str = "count(leaders_female >= 1) / count()";
    const TRAINED: &str = concat!(
        "sum(trained_political_female + trained_professional_female)",
        " / sum(trained_political_total + trained_professional_total)"
    );

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn rows<'a>(data: &'a [(&'a str, Map<String, Value>)]) -> Vec<UnitRow<'a>> {
        data.iter()
            .map(|(code, values)| UnitRow {
                unit_code: code,
                values,
            })
            .collect()
    }

    fn err_at(src: &str) -> (usize, String) {
        let e = parse(src).unwrap_err();
        (e.position, e.message)
    }

    // ----- parsing -----

    #[test]
    fn parses_the_plan_formulas() {
        assert_eq!(
            parse(LEADERS).unwrap(),
            Formula::UnitShare {
                field: "leaders_female".into(),
                op: CmpOp::Ge,
                threshold: 1.0
            }
        );
        assert_eq!(
            parse(TRAINED).unwrap(),
            Formula::RatioOfSums {
                numerator: vec![
                    "trained_political_female".into(),
                    "trained_professional_female".into()
                ],
                denominator: vec![
                    "trained_political_total".into(),
                    "trained_professional_total".into()
                ],
            }
        );
    }

    #[test]
    fn whitespace_is_insignificant() {
        let tight = parse("sum(a+b)/sum(c)").unwrap();
        let loose = parse("  sum ( a \n+\tb ) /\u{a0}sum( c )  ").unwrap();
        assert_eq!(tight, loose);
        assert_eq!(
            parse("count(x>=0.5)/count()").unwrap(),
            parse("count ( x >= 0.5 ) / count ( )").unwrap()
        );
    }

    #[test]
    fn keywords_may_also_be_field_names() {
        assert_eq!(
            parse("sum(sum + count) / sum(total_2)").unwrap().fields(),
            vec!["sum", "count", "total_2"]
        );
    }

    #[test]
    fn every_operator_parses() {
        for op in CmpOp::ALL {
            let src = format!("count(x {} 2) / count()", op.as_str());
            match parse(&src).unwrap() {
                Formula::UnitShare { op: got, .. } => assert_eq!(got, op, "{src}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn parse_errors_carry_positions() {
        // Missing `)` after the condition: points at the `/`.
        let src = "count(leaders_female >= 1 / count()";
        assert_eq!(
            err_at(src),
            (src.find('/').unwrap(), "expected `)`, found `/`".to_owned())
        );
        assert_eq!(
            parse(src).unwrap_err().to_string(),
            format!("expected `)`, found `/` at {}", src.find('/').unwrap())
        );
        // Unclosed sum: reported at the end of input.
        let src = "sum(a + b) / sum(c";
        assert_eq!(
            err_at(src),
            (
                src.len(),
                "expected `+` or `)`, found end of formula".to_owned()
            )
        );
        assert_eq!(
            err_at(""),
            (0, "expected `sum` or `count`, found end of formula".into())
        );
        assert_eq!(
            err_at("avg(a) / sum(b)"),
            (0, "expected `sum` or `count`, found name `avg`".into())
        );
        assert_eq!(
            err_at("sum(a) / count()"),
            (9, "expected `sum`, found name `count`".into())
        );
        assert_eq!(err_at("sum(a) * sum(b)").0, 7);
        assert_eq!(err_at("sum(a)").0, 6);
        assert_eq!(
            err_at("sum() / sum(b)"),
            (4, "expected a field name, found `)`".into())
        );
        assert_eq!(err_at("sum(a +) / sum(b)").0, 7);
        assert_eq!(
            err_at("sum(a) / sum(b) extra"),
            (16, "expected end of formula, found name `extra`".into())
        );
        assert_eq!(
            err_at("count(x) / count()"),
            (
                7,
                "expected a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`), found `)`".into()
            )
        );
        assert_eq!(
            err_at("count(x >= y) / count()"),
            (11, "expected a number, found name `y`".into())
        );
        assert_eq!(
            err_at("count(x >= 1) / count(x)"),
            (22, "expected `)`, found name `x`".into())
        );
        assert_eq!(err_at("count(x >= 1) / sum(x)").0, 16);
    }

    #[test]
    fn lexical_errors_carry_positions() {
        assert_eq!(err_at("sum(Staff) / sum(b)").0, 4);
        assert!(err_at("sum(Staff) / sum(b)").1.contains("lower case"));
        assert_eq!(
            err_at("count(x = 1) / count()"),
            (8, "unexpected `=`; equality is `==`".into())
        );
        assert_eq!(err_at("count(x ! 1) / count()").0, 8);
        assert_eq!(err_at("count(x >= -1) / count()").0, 11);
        assert_eq!(
            err_at("count(x >= 1.) / count()"),
            (13, "expected digits after `.`".into())
        );
        assert_eq!(err_at("sum(a) / sum(b); drop").0, 15);
        // Byte positions, not character positions: `ữ` is 3 bytes.
        let src = "sum(nữ) / sum(b)";
        assert_eq!(err_at(src), (5, "unexpected character `ữ`".into()));
        assert_eq!(
            err_at("sum(a + a) / sum(b)"),
            (8, "field `a` appears twice in the same sum".into())
        );
        let huge = format!("count(x >= {}) / count()", "9".repeat(400));
        assert!(err_at(&huge).1.contains("too large"));
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        assert_eq!(
            parse("count( leaders_female>=1 )/count( )")
                .unwrap()
                .to_string(),
            LEADERS
        );
        assert_eq!(parse(TRAINED).unwrap().to_string(), TRAINED);
        assert_eq!(
            parse("sum(a+b)/sum(c)").unwrap().to_string(),
            "sum(a + b) / sum(c)"
        );
        for src in [
            LEADERS,
            TRAINED,
            "count(x == 0) / count()",
            "count(x != 3) / count()",
            "count(share < 0.333333333333) / count()",
            "count(budget > 1500000000) / count()",
            "count(x <= 0.0000001) / count()",
            "count(x >= 007.50) / count()",
            "sum(a) / sum(a)",
        ] {
            let f = parse(src).unwrap();
            let text = f.to_string();
            assert_eq!(parse(&text).unwrap(), f, "{src} -> {text}");
            // Canonical text is a fixed point.
            assert_eq!(parse(&text).unwrap().to_string(), text);
        }
        assert_eq!(
            parse("count(x >= 007.50) / count()").unwrap().to_string(),
            "count(x >= 7.5) / count()"
        );
        assert_eq!(
            "sum(a)/sum(b)".parse::<Formula>().unwrap().to_string(),
            "sum(a) / sum(b)"
        );
    }

    #[test]
    fn fields_are_distinct_and_ordered() {
        assert_eq!(
            parse("sum(b_female + a_female) / sum(b_total + a_total + b_female)")
                .unwrap()
                .fields(),
            vec!["b_female", "a_female", "b_total", "a_total"]
        );
        assert_eq!(parse(LEADERS).unwrap().fields(), vec!["leaders_female"]);
        assert_eq!(parse("sum(a) / sum(a)").unwrap().fields(), vec!["a"]);
    }

    #[test]
    fn check_fields_names_the_first_bad_one() {
        let f = parse("sum(x_female + y_female) / sum(x_total + y_total)").unwrap();
        let numeric = ["x_female", "x_total", "y_total"];
        assert_eq!(
            f.check_fields(|c| numeric.contains(&c)),
            Err("field `y_female` is not a numeric field of the report form".into())
        );
        assert_eq!(f.check_fields(|_| true), Ok(()));
        assert!(
            parse(LEADERS)
                .unwrap()
                .check_fields(|_| false)
                .unwrap_err()
                .contains("`leaders_female`")
        );
    }

    // ----- operators, targets, ratio -----

    #[test]
    fn every_operator_holds_as_expected() {
        // (op, 1 OP 2, 2 OP 2, 3 OP 2)
        let table = [
            (CmpOp::Ge, false, true, true),
            (CmpOp::Gt, false, false, true),
            (CmpOp::Le, true, true, false),
            (CmpOp::Lt, true, false, false),
            (CmpOp::Eq, false, true, false),
            (CmpOp::Ne, true, false, true),
        ];
        for (op, below, equal, above) in table {
            assert_eq!(op.holds(1.0, 2.0), below, "1 {op} 2");
            assert_eq!(op.holds(2.0, 2.0), equal, "2 {op} 2");
            assert_eq!(op.holds(3.0, 2.0), above, "3 {op} 2");
        }
        assert_eq!(
            CmpOp::ALL.map(|o| o.sql()),
            [">=", ">", "<=", "<", "=", "<>"]
        );
    }

    #[test]
    fn cmp_op_text_and_serde() {
        for op in CmpOp::ALL {
            assert_eq!(op.as_str().parse::<CmpOp>().unwrap(), op);
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
            let back: CmpOp = serde_json::from_value(json!(op.as_str())).unwrap();
            assert_eq!(back, op);
        }
        assert!("=".parse::<CmpOp>().is_err());
        for d in Direction::ALL {
            assert_eq!(d.as_str().parse::<Direction>().unwrap(), d);
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        assert_eq!(Direction::ALL.map(|d| d.as_str()), ["at_least", "at_most"]);
    }

    #[test]
    fn formula_serializes_with_shape_tag() {
        assert_eq!(
            serde_json::to_value(parse(LEADERS).unwrap()).unwrap(),
            json!({"shape": "unit_share", "field": "leaders_female", "op": ">=", "threshold": 1.0})
        );
        assert_eq!(
            serde_json::to_value(parse("sum(a) / sum(b + c)").unwrap()).unwrap(),
            json!({"shape": "ratio_of_sums", "numerator": ["a"], "denominator": ["b", "c"]})
        );
    }

    #[test]
    fn targets_with_tolerance() {
        assert_eq!(met(None, 1.0, Direction::AtLeast), None);
        assert_eq!(met(None, 0.5, Direction::AtMost), None);
        assert_eq!(met(Some(1.0), 1.0, Direction::AtLeast), Some(true));
        assert_eq!(met(Some(1.0 - 1e-12), 1.0, Direction::AtLeast), Some(true));
        assert_eq!(met(Some(0.999), 1.0, Direction::AtLeast), Some(false));
        assert_eq!(met(Some(0.5), 0.5, Direction::AtLeast), Some(true));
        assert_eq!(met(Some(0.49), 0.5, Direction::AtLeast), Some(false));
        assert_eq!(met(Some(0.05 + 1e-12), 0.05, Direction::AtMost), Some(true));
        assert_eq!(met(Some(0.06), 0.05, Direction::AtMost), Some(false));
        assert_eq!(met(Some(0.0), 0.05, Direction::AtMost), Some(true));
        // 0.1 + 0.2 lands above 0.3 in binary; the tolerance absorbs it.
        assert_eq!(met(Some(0.1 + 0.2), 0.3, Direction::AtMost), Some(true));
    }

    #[test]
    fn ratio_never_divides_by_zero() {
        assert_eq!(ratio(1.0, 4.0), (Some(0.25), None));
        assert_eq!(ratio(0.0, 4.0), (Some(0.0), None));
        assert_eq!(ratio(0.0, 0.0), (None, Some("denominator is zero".into())));
        assert_eq!(ratio(3.0, 0.0), (None, Some("denominator is zero".into())));
        assert_eq!(ratio(3.0, -0.0).0, None);
        assert_eq!(ratio(f64::INFINITY, f64::INFINITY).0, None);
    }

    // ----- evaluation -----

    #[test]
    fn unit_share_three_units() {
        let data = [
            ("U01", obj(json!({"leaders_female": 0}))),
            ("U02", obj(json!({"leaders_female": 1}))),
            ("U03", obj(json!({"leaders_female": 2}))),
        ];
        let v = evaluate(&parse(LEADERS).unwrap(), &rows(&data));
        assert_eq!(
            v,
            IndicatorValue {
                value: Some(2.0 / 3.0),
                numerator: 2.0,
                denominator: 3.0,
                reason: None,
                units_short: vec!["U01".into()],
            }
        );
        assert_eq!(met(v.value, 1.0, Direction::AtLeast), Some(false));
        assert_eq!(met(v.value, 0.6, Direction::AtLeast), Some(true));
    }

    #[test]
    fn unit_share_missing_null_and_text_values_are_short_and_sorted() {
        let data = [
            ("Z9", obj(json!({}))),
            ("B2", obj(json!({"leaders_female": null}))),
            ("A1", obj(json!({"leaders_female": "1"}))),
            ("C3", obj(json!({"leaders_female": 3}))),
            ("D4", obj(json!({"leaders_female": 1.0}))),
        ];
        let v = evaluate(&parse(LEADERS).unwrap(), &rows(&data));
        assert_eq!(v.numerator, 2.0);
        assert_eq!(v.denominator, 5.0);
        assert_eq!(v.value, Some(0.4));
        assert_eq!(v.units_short, vec!["A1", "B2", "Z9"]);
    }

    #[test]
    fn unit_share_every_operator() {
        let data = [
            ("a", obj(json!({"x": 0}))),
            ("b", obj(json!({"x": 1}))),
            ("c", obj(json!({"x": 2}))),
            ("d", obj(json!({"x": 1.5}))),
        ];
        // (operator, threshold 1: units meeting it)
        let expected: [(CmpOp, &[&str]); 6] = [
            (CmpOp::Ge, &["b", "c", "d"]),
            (CmpOp::Gt, &["c", "d"]),
            (CmpOp::Le, &["a", "b"]),
            (CmpOp::Lt, &["a"]),
            (CmpOp::Eq, &["b"]),
            (CmpOp::Ne, &["a", "c", "d"]),
        ];
        for (op, meeting) in expected {
            let f = parse(&format!("count(x {op} 1) / count()")).unwrap();
            let v = evaluate(&f, &rows(&data));
            assert_eq!(v.numerator, meeting.len() as f64, "{op}");
            assert_eq!(v.denominator, 4.0);
            assert_eq!(v.value, Some(meeting.len() as f64 / 4.0));
            let short: Vec<&str> = ["a", "b", "c", "d"]
                .into_iter()
                .filter(|u| !meeting.contains(u))
                .collect();
            assert_eq!(v.units_short, short, "{op}");
        }
    }

    #[test]
    fn unit_share_with_no_rows() {
        let v = evaluate(&parse(LEADERS).unwrap(), &[]);
        assert_eq!(
            v,
            IndicatorValue {
                value: None,
                numerator: 0.0,
                denominator: 0.0,
                reason: Some("no reports".into()),
                units_short: vec![],
            }
        );
    }

    #[test]
    fn ratio_of_sums_hand_computed() {
        let data = [
            (
                "U01",
                obj(json!({
                    "trained_political_female": 3, "trained_political_total": 5,
                    "trained_professional_female": 2, "trained_professional_total": 4
                })),
            ),
            (
                "U02",
                // Professional figures left empty: count as 0.
                obj(json!({
                    "trained_political_female": 1, "trained_political_total": 3,
                    "trained_professional_female": null
                })),
            ),
            ("U03", obj(json!({}))),
        ];
        let v = evaluate(&parse(TRAINED).unwrap(), &rows(&data));
        // numerator 3 + 2 + 1 = 6; denominator 5 + 4 + 3 = 12.
        assert_eq!(
            v,
            IndicatorValue {
                value: Some(0.5),
                numerator: 6.0,
                denominator: 12.0,
                reason: None,
                units_short: vec![],
            }
        );
        assert_eq!(met(v.value, 0.5, Direction::AtLeast), Some(true));
    }

    #[test]
    fn ratio_of_sums_zero_denominator_and_empty() {
        let f = parse("sum(a_female) / sum(a_total)").unwrap();
        let data = [
            ("U01", obj(json!({"a_female": 0, "a_total": 0}))),
            ("U02", obj(json!({"a_female": 2}))),
        ];
        let v = evaluate(&f, &rows(&data));
        assert_eq!(v.value, None);
        assert_eq!(v.numerator, 2.0);
        assert_eq!(v.denominator, 0.0);
        assert_eq!(v.reason.as_deref(), Some("denominator is zero"));
        assert_eq!(met(v.value, 0.5, Direction::AtLeast), None);

        let v = evaluate(&f, &[]);
        assert_eq!((v.value, v.numerator, v.denominator), (None, 0.0, 0.0));
        assert_eq!(v.reason.as_deref(), Some("denominator is zero"));
    }

    #[test]
    fn same_field_on_both_sides_counts_on_each() {
        // A share of a sub-total in a total: `a` is in both the numerator and denominator.
        let f = parse("sum(a) / sum(a + b)").unwrap();
        let data = [("U", obj(json!({"a": 1, "b": 3})))];
        assert_eq!(evaluate(&f, &rows(&data)).value, Some(0.25));
    }

    #[test]
    fn indicator_value_json_shape() {
        let v = IndicatorValue {
            value: Some(0.5),
            numerator: 1.0,
            denominator: 2.0,
            reason: None,
            units_short: vec![],
        };
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"value": 0.5, "numerator": 1.0, "denominator": 2.0, "units_short": []})
        );
        let v = IndicatorValue {
            value: None,
            reason: Some("no reports".into()),
            ..v
        };
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({
                "value": null, "numerator": 1.0, "denominator": 2.0,
                "reason": "no reports", "units_short": []
            })
        );
    }
}
