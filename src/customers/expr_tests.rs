//! Tests of the segment expression language: parsing, evaluation and the
//! errors that name the column and the fix.

use std::collections::BTreeMap;

use super::*;

#[derive(Default)]
struct Facts {
    names: Vec<(Name, f64)>,
    segment: Option<String>,
    fields: BTreeMap<String, String>,
}

impl Env for Facts {
    fn name(&self, n: Name) -> Option<Value<'_>> {
        if n == Name::RfmSegment {
            return self.segment.as_deref().map(Value::Str);
        }
        self.names.iter().find(|(k, _)| *k == n).map(|(_, v)| Value::Num(*v))
    }
    fn field(&self, column: &str) -> Option<&str> {
        self.fields.get(column).map(String::as_str)
    }
}

fn facts() -> Facts {
    Facts {
        names: vec![(Name::Clv, 250.0), (Name::PAlive, 0.2), (Name::Orders, 4.0), (Name::R, 1.0)],
        segment: Some("at risk".into()),
        fields: [("country", "DE"), ("tier", "3")].into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
    }
}

fn holds(src: &str) -> bool {
    parse(src).unwrap_or_else(|e| panic!("{src}: {e}")).eval(&facts())
}

#[test]
fn evaluates_comparisons_and_logic() {
    assert!(holds("clv >= 200 and p_alive < 0.3"));
    assert!(!holds("clv >= 300 and p_alive < 0.3"));
    assert!(holds("clv >= 300 or p_alive < 0.3"));
    assert!(holds("not clv > 300"));
    assert!(holds("rfm_segment == \"at risk\" and r <= 2"));
    assert!(holds("rfm_segment != 'champions'"));
    // `and` binds tighter than `or`; parentheses change it.
    assert!(holds("orders == 1 and clv > 0 or r == 1"));
    assert!(!holds("orders == 1 and (clv > 0 or r == 1)"));
    assert!(holds("not not (orders > 3)"));
    // Columns: strings, and numbers when they read as numbers.
    assert!(holds("field.country == \"DE\""));
    assert!(holds("field.tier >= 2 and field.tier < 3.5"));
    assert!(!holds("field.country > 2"), "a column that is not a number is not greater than one");
    assert!(holds("-1 < orders"));
}

#[test]
fn missing_values_make_comparisons_false() {
    // No CLV before the models fit; no such column.
    assert!(!parse("expected_purchases > 0").unwrap().eval(&facts()));
    assert!(!parse("expected_purchases <= 0").unwrap().eval(&facts()));
    assert!(!parse("field.city == \"Berlin\"").unwrap().eval(&facts()));
    assert!(!parse("days_since_order > 1").unwrap().eval(&Facts::default()));
}

#[test]
fn errors_name_the_column_and_the_fix() {
    let e = |src: &str| parse(src).unwrap_err();
    let x = e("clv >= 200 and p_alvie < 0.3");
    assert_eq!(x.column, 16);
    assert!(x.message.contains("unknown name `p_alvie`") && x.message.contains("p_alive"), "{x}");
    let x = e("clv >= \"high\"");
    assert_eq!(x.column, 5);
    assert!(x.message.contains("number is compared with a string"), "{x}");
    let x = e("rfm_segment < \"lost\"");
    assert!(x.message.contains("only with == and !="), "{x}");
    assert_eq!(e("clv >= 200 and").column, 15);
    assert!(e("clv >= 200 and").message.contains("found the end"));
    let x = e("(clv > 1");
    assert_eq!(x.column, 9);
    assert!(x.message.contains("expected `)`"), "{x}");
    assert_eq!(e("clv").message, "expected a comparison (== != < <= > >=) after the operand, found the end");
    assert_eq!(e("clv = 2").column, 5);
    assert_eq!(e("rfm_segment == \"lost").column, 16);
    assert!(e("rfm_segment == \"lost").message.contains("not closed"));
    assert_eq!(e("clv > 1 p_alive").column, 9);
    assert_eq!(e("  ").message, "the condition is empty");
    assert_eq!(e("clv > 1.2.3").message, "`1.2.3` is not a number");
    assert_eq!(e("clv > 2 # x").column, 9);
    assert!(e("field. == 1").message.contains("needs a column name"));
    assert_eq!(e("orders > 1 and and").column, 16);
    assert_eq!(e("clv > 1 and é > 2").column, 13, "columns count characters, not bytes");
}

#[test]
fn deep_or_long_conditions_are_refused_with_the_column_not_a_crash() {
    // Nesting: 64 levels parse; 65 are refused at the bracket that is one too many.
    let nested = |n: usize| format!("{}orders > 1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(MAX_DEPTH)).is_ok());
    let e = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
    assert_eq!(e.column, MAX_DEPTH + 1, "{}", e.message);
    assert!(e.message.contains("nest more than 64"), "{}", e.message);
    let e = parse(&format!("{}orders > 1", "not ".repeat(MAX_DEPTH + 1))).unwrap_err();
    assert!(e.message.contains("nest more than 64"), "{}", e.message);
    // Length: a chain of 333 comparisons (999 tokens) parses and evaluates;
    // 100,000 are refused where the 1,001st token starts.
    let chain = |n: usize| vec!["orders > 1"; n].join(" or ");
    assert!(holds(&chain(250)));
    let e = parse(&chain(100_000)).unwrap_err();
    assert!(e.message.contains("too long"), "{}", e.message);
    // Tokens come four to "orders > 1 or " (14 characters): the 1,001st
    // is the 251st `orders`, at column 250 * 14 + 1.
    assert_eq!(e.column, 3501);
}
