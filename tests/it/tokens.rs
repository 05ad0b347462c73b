//! Token vectors computed independently (tests/vectors/make_tokens.py: Python's `blake3`
//! package and `hmac`), so another system following the contract gets the same tokens.

use anonymize::job::config::PseudonymMethod;
use anonymize::keys::Key;
use anonymize::transform::pseudonymize::Pseudonymizer;

#[derive(serde::Deserialize)]
struct Vector {
    key: String,
    method: String,
    domain: String,
    value: String,
    length: usize,
    keep_domain: bool,
    token: String,
}

#[test]
fn tokens_match_the_independent_vectors() {
    let text = std::fs::read_to_string(super::root().join("tests/vectors/tokens.json")).unwrap();
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap();
    assert_eq!(vectors.len(), 32);
    for v in vectors {
        let key = Key::from_hex(&v.key).unwrap();
        let method = match v.method.as_str() {
            "keyed-hash" => PseudonymMethod::KeyedHash,
            _ => PseudonymMethod::HmacSha256,
        };
        let p = Pseudonymizer::new(&key, method, &v.domain, v.length, v.keep_domain);
        let mut token = String::new();
        p.token_into(&v.value, &mut token);
        assert_eq!(token, v.token, "{} {} {:?}", v.method, v.domain, v.value);
    }
}
