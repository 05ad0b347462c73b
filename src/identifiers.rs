//! Columns that look like direct identifiers, by name or by values: e-mail addresses, phone
//! numbers, card numbers (with a valid Luhn digit), IBANs (with a valid check), IP addresses,
//! national ids and person names. `validate` and `run` warn when such a column is kept
//! unchanged. Only the pattern's name is ever reported, never a value.

use crate::job::{Action, Job};
use arrow::array::{Array, RecordBatch, StringArray};

/// Warnings for the job's `keep` columns that look like direct identifiers: by name, and by the
/// values of `sample` (a batch of the input, when rows may be read). Each names the column (the
/// job names it) and the pattern, never a value.
pub fn kept_identifiers(job: &Job, sample: Option<&RecordBatch>) -> Vec<String> {
    let mut warnings = Vec::new();
    for column in job.columns.iter().filter(|c| matches!(c.action, Action::Keep { .. })) {
        let by_values = sample
            .and_then(|batch| batch.column_by_name(&column.name))
            .and_then(crate::text::to_text)
            .and_then(|text| by_values(&text));
        let what = match (by_values, by_name(&column.name)) {
            (Some(values), _) => format!("most of its values look like {values}"),
            (None, Some(name)) => format!("its name suggests {name}"),
            (None, None) => continue,
        };
        warnings.push(format!(
            "column `{}` is kept unchanged, but {what}; if it identifies people, give it `pseudonymize`, \
             `encrypt`, `mask` or `drop`",
            column.name
        ));
    }
    warnings
}

/// The identifier a column name suggests, if any (`customer_email`, `mobile_no`, `pan`, …).
pub fn by_name(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let has = |candidates: &[&str]| words.iter().any(|w| candidates.contains(w));
    let joined = words.join("_");
    let contains = |candidates: &[&str]| candidates.iter().any(|c| joined.contains(c));
    if has(&["email", "mail"]) || contains(&["e_mail"]) {
        Some("an e-mail address")
    } else if has(&["phone", "mobile", "tel", "telephone", "fax", "msisdn"]) {
        Some("a phone number")
    } else if has(&["pan", "card", "cc", "ccn"]) || contains(&["card_number", "credit_card"]) {
        Some("a card number")
    } else if has(&["iban", "bic", "swift"]) || contains(&["account_number", "bank_account"]) {
        Some("a bank account")
    } else if has(&["ssn", "nino", "passport", "nid", "tin"]) || contains(&["national_id", "tax_id", "social_security"])
    {
        Some("a national id")
    } else if has(&["ip", "ipv4", "ipv6"]) || contains(&["ip_address"]) {
        Some("an IP address")
    } else if has(&["name", "firstname", "lastname", "surname", "fullname", "forename"])
        || contains(&["first_name", "last_name", "full_name", "given_name", "family_name"])
    {
        Some("a person's name")
    } else {
        None
    }
}

/// The identifier most of a column's (non-null) values look like, if any: at least half of them
/// match one pattern.
pub fn by_values(values: &StringArray) -> Option<&'static str> {
    type Detector = (&'static str, fn(&str) -> bool);
    let patterns: [Detector; 5] = [
        ("e-mail addresses", is_email),
        ("card numbers (valid Luhn digit)", is_card_number),
        ("IBANs (valid check digits)", is_iban),
        ("IP addresses", is_ip),
        ("phone numbers", is_phone),
    ];
    let present: Vec<&str> = (0..values.len()).filter(|&i| !values.is_null(i)).map(|i| values.value(i)).collect();
    if present.is_empty() {
        return None;
    }
    patterns
        .iter()
        .find(|(_, matches)| present.iter().filter(|v| matches(v.trim())).count() * 2 >= present.len())
        .map(|(name, _)| *name)
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && !text.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

fn digits_of(text: &str, separators: &str) -> Option<Vec<u32>> {
    let mut digits = Vec::new();
    for c in text.chars() {
        match c.to_digit(10) {
            Some(d) => digits.push(d),
            None if separators.contains(c) => {}
            None => return None,
        }
    }
    Some(digits)
}

fn is_card_number(text: &str) -> bool {
    let Some(digits) = digits_of(text, " -") else { return false };
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

fn is_iban(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = compact.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // ISO 13616: move the first four characters to the end, letters as 10..35, mod 97 is 1.
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut remainder = 0u32;
    for c in rearranged {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

fn is_ip(text: &str) -> bool {
    text.parse::<std::net::Ipv4Addr>().is_ok() || (text.contains(':') && text.parse::<std::net::Ipv6Addr>().is_ok())
}

fn is_phone(text: &str) -> bool {
    let Some(digits) = digits_of(text, " +-().") else { return false };
    // Separators are what tells a phone number from a plain number or an id.
    (7..=15).contains(&digits.len())
        && (text.starts_with('+') || text.contains([' ', '-', '(']))
        && !text.contains("--")
        && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_suggest_identifiers() {
        for (name, expected) in [
            ("email", "an e-mail address"),
            ("contact_e-mail", "an e-mail address"),
            ("mobile_no", "a phone number"),
            ("pan", "a card number"),
            ("CreditCard_Number", "a card number"),
            ("iban", "a bank account"),
            ("national_id", "a national id"),
            ("client_ip", "an IP address"),
            ("full_name", "a person's name"),
        ] {
            assert_eq!(by_name(name), Some(expected), "{name}");
        }
        for name in ["income", "city", "zip", "segment", "panel_size", "signup_date", "capacity"] {
            assert_eq!(by_name(name), None, "{name}");
        }
    }

    #[test]
    fn values_that_look_like_identifiers() {
        let column = |values: &[&str]| StringArray::from(values.to_vec());
        assert_eq!(by_values(&column(&["ann@x.test", "bo@y.test", "n/a"])), Some("e-mail addresses"));
        // 4111 1111 1111 1111 passes Luhn; 4111 1111 1111 1112 does not.
        assert_eq!(
            by_values(&column(&["4111 1111 1111 1111", "5500-0000-0000-0004"])),
            Some("card numbers (valid Luhn digit)")
        );
        assert_eq!(by_values(&column(&["4111 1111 1111 1112", "5500-0000-0000-0005"])), None);
        assert_eq!(
            by_values(&column(&["DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32"])),
            Some("IBANs (valid check digits)")
        );
        assert_eq!(by_values(&column(&["DE88 3704 0044 0532 0130 00"])), None);
        assert_eq!(by_values(&column(&["10.0.0.1", "2001:db8::1"])), Some("IP addresses"));
        assert_eq!(by_values(&column(&["+1-860-555-3440", "(860) 555 1234"])), Some("phone numbers"));
        for plain in
            [&["66600", "1442.89"][..], &["silver", "gold"], &["2022-11-19", "1960-09-10"], &["06128", "94110"]]
        {
            assert_eq!(by_values(&column(plain)), None, "{plain:?}");
        }
    }
}
