//! Masking: keep the first and last few characters, replace the rest.

use arrow::array::{Array, StringArray, StringBuilder};

/// Masks every value, counting characters (not bytes). A value no longer than
/// `keep_first + keep_last` is masked whole, so a short value is never shown in full.
///
/// ```
/// use anonymize::job::Mask;
/// use anonymize::transform::mask::mask;
/// use arrow::array::StringArray;
/// let rule = Mask { keep_first: 0, keep_last: 2, char: '*' };
/// let masked = mask(&StringArray::from(vec!["555-0123", "12"]), &rule);
/// assert_eq!(masked.value(0), "******23");
/// assert_eq!(masked.value(1), "**");
/// ```
pub fn mask(values: &StringArray, rule: &Mask) -> StringArray {
    let mut builder = StringBuilder::with_capacity(values.len(), values.value_data().len() + values.len());
    let mut out = String::new();
    for value in values.iter() {
        let Some(value) = value else {
            builder.append_null();
            continue;
        };
        out.clear();
        let count = value.chars().count();
        if count <= rule.keep_first + rule.keep_last {
            out.extend(std::iter::repeat_n(rule.char, count));
        } else {
            for (i, c) in value.chars().enumerate() {
                out.push(if i < rule.keep_first || i >= count - rule.keep_last { c } else { rule.char });
            }
        }
        builder.append_value(&out);
    }
    builder.finish()
}

/// `mask`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub keep_first: usize,
    pub keep_last: usize,
    pub char: char,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        let rule = Mask { keep_first: 1, keep_last: 1, char: '#' };
        let masked = mask(&StringArray::from(vec![Some("Zoë Ünal"), None, Some("")]), &rule);
        assert_eq!(masked.value(0), "Z######l");
        assert!(masked.is_null(1));
        assert_eq!(masked.value(2), "");
    }
}
