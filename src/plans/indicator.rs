//! Indicator formulas: the small language a plan uses to say how an indicator is
//! computed from report fields, its parser and canonical printer, the check of a
//! formula against the report form, target comparison, and a pure evaluator over
//! per-unit reports. The evaluator is the reference semantics: the SQL that compiles
//! indicators over thousands of units must give the same numbers, and the unit tests
//! here pin those numbers down.
//!
//! Four shapes cover the plan's indicators and most national gender indicators:
//!
//! * ratio of sums over report fields — `sum(trained_political_female +
//!   trained_professional_female) / sum(trained_political_total +
//!   trained_professional_total)`;
//! * share of reports meeting a condition — `count(leaders_female >= 1) / count()`,
//!   `count(committee_in_place) / count()`;
//! * ratio of sums over the items of a repeatable list, each side optionally filtered —
//!   `sum(activities.participants_female where type == "training") /
//!   sum(activities.participants_total where type == "training")`;
//! * share of a list's items meeting a condition —
//!   `count(activities where topics has "law_gender_equality") / count(activities)`.
//!
//! A condition tests one answer, and how depends on the field's type:
//!
//! | field type            | condition                           | holds when                   |
//! |-----------------------|-------------------------------------|------------------------------|
//! | integer, decimal, money | `f >= 1` (`>`, `<=`, `<`, `==`, `!=`) | the number compares so     |
//! | boolean               | `f` or `f == true`; `f == false`    | the answer is yes (no)       |
//! | choice                | `f == "code"`                       | the chosen option is `code`  |
//! | multi-choice          | `f has "code"`                      | `code` is among those chosen |
//!
//! Option codes are written in double quotes, so that a reader (and the parser) tells
//! an option from a field at a glance; `true` and `false` are bare. The canonical text
//! writes `f == true` as `f`. In a list formula the summed fields are written
//! `list.field` and the condition after `where` names fields of the same list.
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

use super::form::{Field, FieldType, FormDefinition};

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

/// What a condition asks of one answer.
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(tag = "test", rename_all = "snake_case")]
pub enum Test {
    /// `field OP threshold` over a numeric answer.
    Compare { op: CmpOp, threshold: f64 },
    /// `field` (yes) or `field == false` (no) over a yes/no answer.
    Flag { yes: bool },
    /// `field == "option"` over a choice answer.
    Is { option: String },
    /// `field has "option"` over a multi-choice answer.
    Has { option: String },
}

/// One answer tested: a report's field, or a list item's.
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Condition {
    pub field: String,
    #[serde(flatten)]
    pub test: Test,
}

impl Condition {
    /// Whether a JSON answer meets the condition; a missing or null answer is `None`
    /// (no answer), any other answer that does not meet it is `Some(false)`.
    pub fn holds(&self, answer: Option<&serde_json::Value>) -> Option<bool> {
        use serde_json::Value;
        let v = answer.filter(|v| !v.is_null())?;
        Some(match &self.test {
            Test::Compare { op, threshold } => v.as_f64().is_some_and(|n| op.holds(n, *threshold)),
            Test::Flag { yes } => v.as_bool() == Some(*yes),
            Test::Is { option } => v.as_str() == Some(option.as_str()),
            Test::Has { option } => v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| matches!(x, Value::String(s) if s == option))
            }),
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        match &self.test {
            // `f64`'s Display never uses exponent notation and prints the shortest
            // text that reads back to the same value, so the grammar's plain
            // decimals round-trip exactly.
            Test::Compare { op, threshold } => write!(f, "{field} {op} {threshold}"),
            Test::Flag { yes: true } => write!(f, "{field}"),
            Test::Flag { yes: false } => write!(f, "{field} == false"),
            Test::Is { option } => write!(f, "{field} == \"{option}\""),
            Test::Has { option } => write!(f, "{field} has \"{option}\""),
        }
    }
}

/// One side of a list-item ratio: the sum of some item fields over the items that
/// meet `filter` (all items without one).
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct ItemSum {
    pub fields: Vec<String>,
    pub filter: Option<Condition>,
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
    /// `count(condition) / count()`: the share of reports meeting the condition.
    UnitShare { condition: Condition },
    /// `sum(list.a + … [where c]) / sum(list.b + … [where c])` over the items of one
    /// list in every report.
    ItemRatio {
        list: String,
        numerator: ItemSum,
        denominator: ItemSum,
    },
    /// `count(list where c) / count(list)`: the share of the list's items meeting `c`.
    ItemShare { list: String, condition: Condition },
}

/// Why a formula does not fit the report form: a stable issue code and the sentence
/// for a coordinator, in English and Vietnamese.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormMismatch {
    pub code: &'static str,
    pub en: String,
    pub vi: String,
}

impl FormMismatch {
    fn unknown_field(field: &str, list: Option<&str>) -> Self {
        let (en, vi) = match list {
            None => (
                format!("the report form has no field `{field}`"),
                format!("biểu mẫu báo cáo không có trường `{field}`"),
            ),
            Some(l) => (
                format!("the list `{l}` of the report form has no field `{field}`"),
                format!("danh sách `{l}` của biểu mẫu báo cáo không có trường `{field}`"),
            ),
        };
        FormMismatch {
            code: "unknown_field",
            en,
            vi,
        }
    }

    fn wrong_use(field: &str, en_use: &str, vi_use: &str) -> Self {
        FormMismatch {
            code: "formula_type_mismatch",
            en: format!("field `{field}` {en_use}"),
            vi: format!("trường `{field}` {vi_use}"),
        }
    }
}

impl fmt::Display for FormMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// Checks a condition against the field it names (`None`: no such field), so that
/// each type is tested the one way it can be.
fn check_condition(
    c: &Condition,
    field: Option<&Field>,
    list: Option<&str>,
) -> Result<(), FormMismatch> {
    let fld = field.ok_or_else(|| FormMismatch::unknown_field(&c.field, list))?;
    let name = &c.field;
    let option = match (&c.test, fld.kind) {
        (Test::Compare { .. }, k) if k.is_numeric() => return Ok(()),
        (Test::Flag { .. }, FieldType::Boolean) => return Ok(()),
        (Test::Is { option }, FieldType::Choice)
        | (Test::Has { option }, FieldType::MultiChoice) => option,
        (_, k) if k.is_numeric() => {
            return Err(FormMismatch::wrong_use(
                name,
                "is a number: compare it with a number (`>= 1`)",
                "là trường số: hãy so sánh với một số (`>= 1`)",
            ));
        }
        (_, FieldType::Boolean) => {
            return Err(FormMismatch::wrong_use(
                name,
                "is a yes/no field: write it alone (is yes) or `== false` (is no)",
                "là trường có/không: hãy ghi riêng tên trường (có) hoặc `== false` (không)",
            ));
        }
        (_, FieldType::Choice) => {
            return Err(FormMismatch::wrong_use(
                name,
                "is a choice field: compare it with one of its options (`== \"code\"`)",
                "là trường chọn một: hãy so sánh với một mã lựa chọn (`== \"mã\"`)",
            ));
        }
        (_, FieldType::MultiChoice) => {
            return Err(FormMismatch::wrong_use(
                name,
                "is a multi-choice field: test one of its options with `has \"code\"`",
                "là trường chọn nhiều: hãy kiểm tra một mã lựa chọn bằng `has \"mã\"`",
            ));
        }
        _ => {
            return Err(FormMismatch::wrong_use(
                name,
                "is a text or date field, which an indicator cannot test",
                "là trường văn bản hoặc ngày tháng, chỉ tiêu không dùng được",
            ));
        }
    };
    let known = fld
        .options
        .as_ref()
        .is_some_and(|os| os.iter().any(|o| &o.code == option));
    if known {
        Ok(())
    } else {
        Err(FormMismatch {
            code: "unknown_option",
            en: format!("`{option}` is not an option of field `{name}`"),
            vi: format!("`{option}` không phải là mã lựa chọn của trường `{name}`"),
        })
    }
}

/// Checks summed fields: each must exist and be numeric.
fn check_summed<'a>(
    fields: &[String],
    lookup: impl Fn(&str) -> Option<&'a Field>,
    list: Option<&str>,
) -> Result<(), FormMismatch> {
    for name in fields {
        let f = lookup(name).ok_or_else(|| FormMismatch::unknown_field(name, list))?;
        if !f.kind.is_numeric() {
            return Err(FormMismatch::wrong_use(
                name,
                "is not a numeric field, so it cannot be summed",
                "không phải là trường số nên không cộng được",
            ));
        }
    }
    Ok(())
}

impl Formula {
    /// The distinct top-level report fields the formula reads, in order of first
    /// appearance (none for list formulas, which read their list's items).
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let names: Box<dyn Iterator<Item = &String>> = match self {
            Formula::RatioOfSums {
                numerator,
                denominator,
            } => Box::new(numerator.iter().chain(denominator.iter())),
            Formula::UnitShare { condition } => Box::new(std::iter::once(&condition.field)),
            Formula::ItemRatio { .. } | Formula::ItemShare { .. } => Box::new(std::iter::empty()),
        };
        for name in names {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
        out
    }

    /// The list a list formula reads.
    pub fn list(&self) -> Option<&str> {
        match self {
            Formula::ItemRatio { list, .. } | Formula::ItemShare { list, .. } => Some(list),
            _ => None,
        }
    }

    /// Checks the formula against the report form: every field exists where it is
    /// named (the report, or the named list) and has a type that fits its use —
    /// numbers summed or compared, yes/no fields alone or `== false`, choice fields
    /// `==` one of their options, multi-choice fields `has` one. The error names the
    /// first misfit, in formula order.
    pub fn check_form(&self, form: &FormDefinition) -> Result<(), FormMismatch> {
        match self {
            Formula::RatioOfSums {
                numerator,
                denominator,
            } => {
                let top = |c: &str| form.field(c);
                check_summed(numerator, top, None)?;
                check_summed(denominator, top, None)
            }
            Formula::UnitShare { condition } => {
                check_condition(condition, form.field(&condition.field), None)
            }
            Formula::ItemRatio { list, .. } | Formula::ItemShare { list, .. } => {
                let l = form.list(list).ok_or_else(|| FormMismatch {
                    code: "unknown_list",
                    en: format!("the report form has no list `{list}`"),
                    vi: format!("biểu mẫu báo cáo không có danh sách `{list}`"),
                })?;
                let item = |c: &str| l.fields.iter().find(|f| f.code == c);
                let check = |c: &Option<Condition>| match c {
                    Some(c) => check_condition(c, item(&c.field), Some(list)),
                    None => Ok(()),
                };
                match self {
                    Formula::ItemRatio {
                        numerator,
                        denominator,
                        ..
                    } => {
                        check_summed(&numerator.fields, item, Some(list))?;
                        check(&numerator.filter)?;
                        check_summed(&denominator.fields, item, Some(list))?;
                        check(&denominator.filter)
                    }
                    Formula::ItemShare { condition, .. } => {
                        check_condition(condition, item(&condition.field), Some(list))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

fn write_item_sum(f: &mut fmt::Formatter<'_>, list: &str, side: &ItemSum) -> fmt::Result {
    let terms: Vec<String> = side.fields.iter().map(|t| format!("{list}.{t}")).collect();
    write!(f, "sum({}", terms.join(" + "))?;
    if let Some(c) = &side.filter {
        write!(f, " where {c}")?;
    }
    f.write_str(")")
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
            Formula::UnitShare { condition } => write!(f, "count({condition}) / count()"),
            Formula::ItemRatio {
                list,
                numerator,
                denominator,
            } => {
                write_item_sum(f, list, numerator)?;
                f.write_str(" / ")?;
                write_item_sum(f, list, denominator)
            }
            Formula::ItemShare { list, condition } => {
                write!(f, "count({list} where {condition}) / count({list})")
            }
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
    /// A quoted option code, without its quotes.
    Str(&'a str),
    Dot,
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
            Tok::Str(_) => format!("option `{}`", self.text),
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
            '"' => {
                chars.next();
                // No escapes: an option code is `[a-z][a-z0-9_]*`, so it never holds a
                // quote, and the canonical text can write it back between quotes.
                let close = run_end(&mut chars, src.len(), |ch| ch != '"');
                if chars.next().is_none() {
                    return Err(FormulaError::new(pos, "unclosed `\"`"));
                }
                let text = src.get(pos..close + 1).unwrap_or("");
                let inner = src.get(pos + 1..close).unwrap_or("");
                out.push(Token {
                    tok: Tok::Str(inner),
                    pos,
                    text,
                });
            }
            '(' | ')' | '+' | '/' | '.' => {
                chars.next();
                let tok = match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '+' => Tok::Plus,
                    '.' => Tok::Dot,
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

    /// `( term ( + term )* [where condition] )`, a term being a report field or, in
    /// a list formula, `list.field`, with no field repeated: `sum(a + a)` is almost
    /// certainly a typo for another field, and rejecting it keeps the meaning of a
    /// sum independent of whether the SQL de-duplicates its columns. Only a list sum
    /// takes a `where`.
    fn sum_side(&mut self) -> Result<SumSide, FormulaError> {
        self.expect(Tok::LParen, "`(`")?;
        let mut side = SumSide {
            pos: self.peek().pos,
            list: None,
            terms: Vec::new(),
            filter: None,
        };
        loop {
            let at = self.peek().pos;
            let first = self.field()?;
            let (list, name) = if self.peek().tok == Tok::Dot {
                self.bump();
                (Some(first), self.field()?)
            } else {
                (None, first)
            };
            if side.terms.is_empty() {
                side.list = list;
            } else if list != side.list {
                return Err(FormulaError::new(
                    at,
                    match &side.list {
                        Some(l) => format!("every term of this sum is an item field `{l}.…`"),
                        None => {
                            "a sum adds report fields or the items of one list, not both".to_owned()
                        }
                    },
                ));
            }
            if side.terms.contains(&name) {
                return Err(FormulaError::new(
                    at,
                    format!("field `{name}` appears twice in the same sum"),
                ));
            }
            side.terms.push(name);
            match self.peek().tok {
                Tok::Plus => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(side);
                }
                Tok::Ident("where") if side.list.is_some() => {
                    self.bump();
                    side.filter = Some(self.condition()?);
                    self.expect(Tok::RParen, "`)`")?;
                    return Ok(side);
                }
                _ if side.list.is_some() => return Err(self.error("`+`, `where` or `)`")),
                _ => return Err(self.error("`+` or `)`")),
            }
        }
    }

    /// `field` followed by its test.
    fn condition(&mut self) -> Result<Condition, FormulaError> {
        let field = self.field()?;
        self.test_of(field)
    }

    fn option(&mut self) -> Result<String, FormulaError> {
        let t = self.peek();
        match t.tok {
            Tok::Str(code) => {
                let ok = code.starts_with(|c: char| c.is_ascii_lowercase())
                    && code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    return Err(FormulaError::new(
                        t.pos,
                        "an option code is lower-case letters, digits and `_`, starting with a letter",
                    ));
                }
                self.bump();
                Ok(code.to_owned())
            }
            _ => Err(self.error("an option code in double quotes")),
        }
    }

    /// The test after a field: `OP number`, `== true|false`, `== "option"`,
    /// `has "option"`, or nothing (the yes/no answer is yes).
    fn test_of(&mut self, field: String) -> Result<Condition, FormulaError> {
        let test = match self.peek().tok {
            Tok::Op(op) => {
                self.bump();
                match self.peek().tok {
                    Tok::Number(threshold) => {
                        self.bump();
                        Test::Compare { op, threshold }
                    }
                    Tok::Ident(word @ ("true" | "false")) if op == CmpOp::Eq => {
                        self.bump();
                        Test::Flag {
                            yes: word == "true",
                        }
                    }
                    Tok::Str(_) if op == CmpOp::Eq => Test::Is {
                        option: self.option()?,
                    },
                    _ if op == CmpOp::Eq => {
                        return Err(self.error(
                            "a number, `true`, `false` or an option code in double quotes",
                        ));
                    }
                    _ => return Err(self.error("a number")),
                }
            }
            Tok::Ident("has") => {
                self.bump();
                Test::Has {
                    option: self.option()?,
                }
            }
            Tok::RParen => Test::Flag { yes: true },
            _ => {
                return Err(
                    self.error("a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`), `has` or `)`")
                );
            }
        };
        Ok(Condition { field, test })
    }

    fn formula(&mut self) -> Result<Formula, FormulaError> {
        let f = match self.peek().tok {
            Tok::Ident("sum") => {
                self.bump();
                let num = self.sum_side()?;
                self.expect(Tok::Slash, "`/`")?;
                self.keyword("sum")?;
                let den = self.sum_side()?;
                match (num.list, den.list) {
                    (None, None) => Formula::RatioOfSums {
                        numerator: num.terms,
                        denominator: den.terms,
                    },
                    (Some(l), Some(d)) if l == d => Formula::ItemRatio {
                        list: l,
                        numerator: ItemSum {
                            fields: num.terms,
                            filter: num.filter,
                        },
                        denominator: ItemSum {
                            fields: den.terms,
                            filter: den.filter,
                        },
                    },
                    (Some(l), _) => {
                        return Err(FormulaError::new(
                            den.pos,
                            format!("the denominator must sum items of the list `{l}` too"),
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(FormulaError::new(
                            den.pos,
                            "the numerator sums report fields, so the denominator must too",
                        ));
                    }
                }
            }
            Tok::Ident("count") => {
                self.bump();
                self.expect(Tok::LParen, "`(`")?;
                let first = self.field()?;
                if self.peek().tok == Tok::Ident("where") {
                    self.bump();
                    let condition = self.condition()?;
                    self.expect(Tok::RParen, "`)`")?;
                    self.expect(Tok::Slash, "`/`")?;
                    self.keyword("count")?;
                    self.expect(Tok::LParen, "`(`")?;
                    self.expect(Tok::Ident(&first), &format!("`{first}`"))?;
                    self.expect(Tok::RParen, "`)`")?;
                    Formula::ItemShare {
                        list: first,
                        condition,
                    }
                } else {
                    let condition = self.test_of(first)?;
                    self.expect(Tok::RParen, "`)`")?;
                    self.expect(Tok::Slash, "`/`")?;
                    self.keyword("count")?;
                    self.expect(Tok::LParen, "`(`")?;
                    self.expect(Tok::RParen, "`)`")?;
                    Formula::UnitShare { condition }
                }
            }
            _ => return Err(self.error("`sum` or `count`")),
        };
        self.expect(Tok::End, "end of formula")?;
        Ok(f)
    }
}

/// One side of a sum as parsed: where it starts, its list if its terms are item
/// fields, the fields, and the `where` filter of a list sum.
struct SumSide {
    pos: usize,
    list: Option<String>,
    terms: Vec<String>,
    filter: Option<Condition>,
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

/// One unit's report as the evaluator sees it: its code, its field values (the
/// report's JSON object of field code → value) and its lists (list code → items).
#[derive(Clone, Copy, Debug)]
pub struct UnitRow<'a> {
    pub unit_code: &'a str,
    pub values: &'a serde_json::Map<String, serde_json::Value>,
    pub lists: &'a serde_json::Map<String, serde_json::Value>,
}

impl<'a> UnitRow<'a> {
    /// The items of a list that are objects (anything else in the array is no item).
    fn items(
        &self,
        list: &str,
    ) -> impl Iterator<Item = &'a serde_json::Map<String, serde_json::Value>> + use<'a> {
        self.lists
            .get(list)
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_object)
    }
}

/// Whether an item passes an optional filter: an item without the answer does not.
fn passes(filter: Option<&Condition>, item: &serde_json::Map<String, serde_json::Value>) -> bool {
    filter.is_none_or(|c| c.holds(item.get(&c.field)) == Some(true))
}

/// The sum of `fields` over the items passing `filter`, a non-number counting 0.
fn item_total(rows: &[UnitRow<'_>], list: &str, side: &ItemSum) -> f64 {
    rows.iter()
        .flat_map(|r| r.items(list))
        .filter(|item| passes(side.filter.as_ref(), item))
        .flat_map(|item| {
            side.fields
                .iter()
                .map(move |f| number(item, f).unwrap_or(0.0))
        })
        .sum()
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
///   whose answer meets the condition. Every other row — including one that left
///   the field empty — is short.
/// * List formulas: the same over the items (objects) of the list in every row; an
///   item without the answer a filter tests does not pass it.
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
            ratio_value(total(numerator), total(denominator))
        }
        Formula::UnitShare { condition } => {
            let mut hits = 0usize;
            let mut units_short: Vec<String> = Vec::new();
            for r in rows {
                match condition.holds(r.values.get(&condition.field)) {
                    Some(true) => hits += 1,
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
        Formula::ItemRatio {
            list,
            numerator,
            denominator,
        } => ratio_value(
            item_total(rows, list, numerator),
            item_total(rows, list, denominator),
        ),
        Formula::ItemShare { list, condition } => {
            let items = || rows.iter().flat_map(|r| r.items(list));
            let hits = items().filter(|i| passes(Some(condition), i)).count();
            ratio_value(hits as f64, items().count() as f64)
        }
    }
}

/// A ratio's value from its two totals; ratios (of report fields or of list items)
/// name no units short.
pub fn ratio_value(numerator: f64, denominator: f64) -> IndicatorValue {
    let (value, reason) = ratio(numerator, denominator);
    IndicatorValue {
        value,
        numerator,
        denominator,
        reason,
        units_short: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    const LEADERS: &str = "count(leaders_female >= 1) / count()";
    const COMMITTEE: &str = "count(committee_in_place) / count()";
    const ACTIVITY_TOPIC: &str =
        "count(activities where topics has \"law_gender_equality\") / count(activities)";
    const TRAINING_WOMEN: &str = concat!(
        "sum(activities.participants_female where type == \"training_course\")",
        " / sum(activities.participants_total where type == \"training_course\")"
    );
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
        static NO_LISTS: std::sync::LazyLock<Map<String, Value>> =
            std::sync::LazyLock::new(Map::new);
        data.iter()
            .map(|(code, values)| UnitRow {
                unit_code: code,
                values,
                lists: &NO_LISTS,
            })
            .collect()
    }

    fn compare(field: &str, op: CmpOp, threshold: f64) -> Formula {
        Formula::UnitShare {
            condition: Condition {
                field: field.into(),
                test: Test::Compare { op, threshold },
            },
        }
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
            compare("leaders_female", CmpOp::Ge, 1.0)
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
            assert_eq!(parse(&src).unwrap(), compare("x", op, 2.0), "{src}");
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
            err_at("count(x y) / count()"),
            (
                8,
                "expected a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`), `has` or `)`, found name `y`"
                    .into()
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
            json!({"shape": "unit_share", "condition":
                {"field": "leaders_female", "test": "compare", "op": ">=", "threshold": 1.0}})
        );
        assert_eq!(
            serde_json::to_value(parse(ACTIVITY_TOPIC).unwrap()).unwrap(),
            json!({"shape": "item_share", "list": "activities", "condition":
                {"field": "topics", "test": "has", "option": "law_gender_equality"}})
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

    // ----- yes/no, choice and list formulas -----

    #[test]
    fn parses_conditions_of_every_type() {
        let cond = |src: &str| match parse(src).unwrap() {
            Formula::UnitShare { condition } => condition,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            cond(COMMITTEE),
            Condition {
                field: "committee_in_place".into(),
                test: Test::Flag { yes: true }
            }
        );
        assert_eq!(
            cond("count(c == true) / count()").test,
            Test::Flag { yes: true }
        );
        assert_eq!(
            cond("count(c == false) / count()").test,
            Test::Flag { yes: false }
        );
        assert_eq!(
            cond("count(level == \"city\") / count()").test,
            Test::Is {
                option: "city".into()
            }
        );
        assert_eq!(
            cond("count(topics has \"law\") / count()").test,
            Test::Has {
                option: "law".into()
            }
        );
        assert_eq!(
            parse(ACTIVITY_TOPIC).unwrap(),
            Formula::ItemShare {
                list: "activities".into(),
                condition: Condition {
                    field: "topics".into(),
                    test: Test::Has {
                        option: "law_gender_equality".into()
                    }
                }
            }
        );
        let training = Some(Condition {
            field: "type".into(),
            test: Test::Is {
                option: "training_course".into(),
            },
        });
        assert_eq!(
            parse(TRAINING_WOMEN).unwrap(),
            Formula::ItemRatio {
                list: "activities".into(),
                numerator: ItemSum {
                    fields: vec!["participants_female".into()],
                    filter: training.clone()
                },
                denominator: ItemSum {
                    fields: vec!["participants_total".into()],
                    filter: training
                },
            }
        );
        // A list sum without a filter, and several item fields.
        assert_eq!(
            parse("sum(l.a + l.b) / sum(l.c where n >= 2)")
                .unwrap()
                .list(),
            Some("l")
        );
        assert!(parse(COMMITTEE).unwrap().list().is_none());
    }

    #[test]
    fn new_shapes_round_trip_canonically() {
        assert_eq!(
            parse("count( c==true )/count()").unwrap().to_string(),
            "count(c) / count()"
        );
        assert_eq!(
            parse("count(activities where topics has\"law\")/count( activities )")
                .unwrap()
                .to_string(),
            "count(activities where topics has \"law\") / count(activities)"
        );
        for src in [
            COMMITTEE,
            ACTIVITY_TOPIC,
            TRAINING_WOMEN,
            "count(c == false) / count()",
            "count(level == \"ward_2\") / count()",
            "count(l where n < 0.5) / count(l)",
            "count(l where done) / count(l)",
            "count(l where done == false) / count(l)",
            "sum(l.a + l.b) / sum(l.c)",
            "sum(l.a where k == \"x\") / sum(l.a + l.b)",
        ] {
            let f = parse(src).unwrap();
            assert_eq!(f.to_string(), src);
            assert_eq!(parse(&f.to_string()).unwrap(), f);
        }
        // Report-field formulas read their fields; list formulas read none of them.
        assert_eq!(
            parse(COMMITTEE).unwrap().fields(),
            vec!["committee_in_place"]
        );
        assert!(parse(TRAINING_WOMEN).unwrap().fields().is_empty());
    }

    #[test]
    fn new_shapes_report_their_errors_where_they_are() {
        assert_eq!(
            err_at("count(x has law) / count()"),
            (
                12,
                "expected an option code in double quotes, found name `law`".into()
            )
        );
        assert_eq!(
            err_at("count(x == \"Law\") / count()"),
            (
                11,
                "an option code is lower-case letters, digits and `_`, starting with a letter"
                    .into()
            )
        );
        assert_eq!(
            err_at("count(x == \"law) / count()"),
            (11, "unclosed `\"`".into())
        );
        assert_eq!(
            err_at("count(x != \"law\") / count()"),
            (11, "expected a number, found option `\"law\"`".into())
        );
        assert_eq!(
            err_at("count(x == maybe) / count()"),
            (
                11,
                "expected a number, `true`, `false` or an option code in double quotes, found name `maybe`"
                    .into()
            )
        );
        assert_eq!(
            err_at("sum(l.a + b) / sum(l.c)"),
            (10, "every term of this sum is an item field `l.…`".into())
        );
        assert_eq!(
            err_at("sum(a + l.b) / sum(c)"),
            (
                8,
                "a sum adds report fields or the items of one list, not both".into()
            )
        );
        assert_eq!(
            err_at("sum(l.a) / sum(m.a)"),
            (
                15,
                "the denominator must sum items of the list `l` too".into()
            )
        );
        assert_eq!(
            err_at("sum(a) / sum(l.a)"),
            (
                13,
                "the numerator sums report fields, so the denominator must too".into()
            )
        );
        assert_eq!(
            err_at("sum(a where b) / sum(c)"),
            (6, "expected `+` or `)`, found name `where`".into())
        );
        assert_eq!(
            err_at("sum(l.a l.b) / sum(l.c)"),
            (8, "expected `+`, `where` or `)`, found name `l`".into())
        );
        assert_eq!(
            err_at("count(l where x) / count(m)"),
            (25, "expected `l`, found name `m`".into())
        );
        assert_eq!(
            err_at("sum(l.a + l.a) / sum(l.b)"),
            (10, "field `a` appears twice in the same sum".into())
        );
    }

    fn form() -> FormDefinition {
        crate::plans::form::default_form_2024().unwrap()
    }

    fn mismatch(src: &str) -> (&'static str, String) {
        let m = parse(src).unwrap().check_form(&form()).unwrap_err();
        assert!(!m.vi.is_empty() && m.vi != m.en, "{m:?}");
        (m.code, m.en)
    }

    #[test]
    fn check_form_accepts_every_fitting_use() {
        for src in [
            LEADERS,
            TRAINED,
            COMMITTEE,
            ACTIVITY_TOPIC,
            TRAINING_WOMEN,
            "count(committee_in_place == false) / count()",
            "count(activities where participants_total >= 30) / count(activities)",
            "sum(activities.participants_female + activities.cost_vnd) / sum(activities.participants_total)",
        ] {
            assert_eq!(parse(src).unwrap().check_form(&form()), Ok(()), "{src}");
        }
    }

    #[test]
    fn check_form_names_the_misfit_in_both_languages() {
        assert_eq!(
            mismatch("count(committee_in_place >= 1) / count()"),
            (
                "formula_type_mismatch",
                "field `committee_in_place` is a yes/no field: write it alone (is yes) or `== false` (is no)"
                    .into()
            )
        );
        assert_eq!(
            mismatch("count(staff_total) / count()").0,
            "formula_type_mismatch"
        );
        assert_eq!(
            mismatch("sum(committee_in_place) / sum(staff_total)"),
            (
                "formula_type_mismatch",
                "field `committee_in_place` is not a numeric field, so it cannot be summed".into()
            )
        );
        assert_eq!(
            mismatch("count(nobody) / count()"),
            (
                "unknown_field",
                "the report form has no field `nobody`".into()
            )
        );
        assert_eq!(
            mismatch("count(activities where topics has \"sport\") / count(activities)"),
            (
                "unknown_option",
                "`sport` is not an option of field `topics`".into()
            )
        );
        assert_eq!(
            mismatch("count(activities where topics == \"other\") / count(activities)").0,
            "formula_type_mismatch"
        );
        assert_eq!(
            mismatch("count(activities where type has \"other\") / count(activities)").0,
            "formula_type_mismatch"
        );
        assert_eq!(
            mismatch("sum(activities.title) / sum(activities.participants_total)").0,
            "formula_type_mismatch"
        );
        // A report field is not a field of the list's items.
        assert_eq!(
            mismatch("count(activities where staff_total >= 1) / count(activities)"),
            (
                "unknown_field",
                "the list `activities` of the report form has no field `staff_total`".into()
            )
        );
        assert_eq!(
            mismatch("count(events where x) / count(events)"),
            (
                "unknown_list",
                "the report form has no list `events`".into()
            )
        );
        assert_eq!(
            mismatch("count(narrative_results == \"x\") / count()").0,
            "formula_type_mismatch"
        );
    }

    fn unit<'a>(
        code: &'a str,
        values: &'a Map<String, Value>,
        lists: &'a Map<String, Value>,
    ) -> UnitRow<'a> {
        UnitRow {
            unit_code: code,
            values,
            lists,
        }
    }

    #[test]
    fn yes_no_and_choice_shares_by_hand() {
        let a = obj(json!({"committee_in_place": true, "level": "city"}));
        let b = obj(json!({"committee_in_place": false, "level": "ward"}));
        let c = obj(json!({"committee_in_place": "yes"}));
        let d = obj(json!({"committee_in_place": null}));
        let none = Map::new();
        let rows = [
            unit("A", &a, &none),
            unit("B", &b, &none),
            unit("C", &c, &none),
            unit("D", &d, &none),
        ];
        let v = evaluate(&parse(COMMITTEE).unwrap(), &rows);
        assert_eq!(
            (v.numerator, v.denominator, v.value),
            (1.0, 4.0, Some(0.25))
        );
        assert_eq!(v.units_short, vec!["B", "C", "D"]);
        let v = evaluate(
            &parse("count(committee_in_place == false) / count()").unwrap(),
            &rows,
        );
        assert_eq!((v.numerator, v.units_short.len()), (1.0, 3));
        let v = evaluate(&parse("count(level == \"ward\") / count()").unwrap(), &rows);
        assert_eq!((v.numerator, v.value), (1.0, Some(0.25)));
    }

    #[test]
    fn list_formulas_by_hand() {
        let lists_a = obj(json!({"activities": [
            {"type": "training_course", "participants_total": 40, "participants_female": 30,
             "topics": ["law_gender_equality"]},
            {"type": "conference", "participants_total": 100, "participants_female": 20,
             "topics": ["other"]},
            "not an item",
        ]}));
        let lists_b = obj(json!({"activities": [
            {"type": "training_course", "participants_total": 10, "participants_female": "5",
             "topics": ["law_gender_equality", "other"]},
            {"participants_total": 7, "topics": "law_gender_equality"},
        ]}));
        let lists_c = obj(json!({"activities": "none"}));
        let values = Map::new();
        let rows = [
            unit("A", &values, &lists_a),
            unit("B", &values, &lists_b),
            unit("C", &values, &lists_c),
        ];
        // Women among training participants: 30 (the "5" is text) of 40 + 10.
        let v = evaluate(&parse(TRAINING_WOMEN).unwrap(), &rows);
        assert_eq!(
            (v.numerator, v.denominator, v.value),
            (30.0, 50.0, Some(0.6))
        );
        assert!(v.units_short.is_empty());
        // Items with the law topic: 2 of 4 (a string is not a multi-choice answer).
        let v = evaluate(&parse(ACTIVITY_TOPIC).unwrap(), &rows);
        assert_eq!((v.numerator, v.denominator, v.value), (2.0, 4.0, Some(0.5)));
        // Unfiltered sides sum every item.
        let f = parse("sum(activities.participants_female) / sum(activities.participants_total)")
            .unwrap();
        let v = evaluate(&f, &rows);
        assert_eq!((v.numerator, v.denominator), (50.0, 157.0));
        // No items: no value, and why.
        let v = evaluate(&parse(ACTIVITY_TOPIC).unwrap(), &rows[2..]);
        assert_eq!(v.value, None);
        assert_eq!(v.reason.as_deref(), Some("denominator is zero"));
    }
}
