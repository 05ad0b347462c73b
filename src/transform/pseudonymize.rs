//! Keyed one-way tokens, exactly as the contract's "Keys and tokens" section defines them, so
//! that another system with the same key computes the same token.
//!
//! - `keyed-hash`: `domain_key = BLAKE3-derive-key("anonymize pseudonymize v1", key ‖ domain)`,
//!   token = hex of `BLAKE3-keyed(domain_key, value)` cut to `length`.
//! - `hmac-sha256`: token = hex of `HMAC-SHA256(key, domain ‖ 0x00 ‖ value)` cut to `length`.

use crate::keys::{Key, push_hex};
use arrow::array::{Array, StringArray, StringBuilder};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key derivation context of `keyed-hash`.
pub const KEYED_HASH_CONTEXT: &str = "anonymize pseudonymize v1";

/// A pseudonymizer for one column: method, key material for its domain, token length.
#[derive(Clone)]
pub struct Pseudonymizer {
    method: Method,
    length: usize,
    keep_domain: bool,
}

#[derive(Clone)]
enum Method {
    KeyedHash { domain_key: [u8; 32] },
    Hmac { mac: Hmac<Sha256> },
}

impl Pseudonymizer {
    /// Derives the column's key material.
    pub fn new(key: &Key, method: PseudonymMethod, domain: &str, length: usize, keep_domain: bool) -> Self {
        let method = match method {
            PseudonymMethod::KeyedHash => {
                let mut material = zeroize::Zeroizing::new(Vec::with_capacity(32 + domain.len()));
                material.extend_from_slice(key.bytes());
                material.extend_from_slice(domain.as_bytes());
                let domain_key = blake3::derive_key(KEYED_HASH_CONTEXT, &material);
                Method::KeyedHash { domain_key }
            }
            PseudonymMethod::HmacSha256 => {
                let mut mac =
                    <Hmac<Sha256> as KeyInit>::new_from_slice(key.bytes()).expect("HMAC takes keys of any length");
                mac.update(domain.as_bytes());
                mac.update(&[0]);
                Method::Hmac { mac }
            }
        };
        Self { method, length: length.clamp(16, 64), keep_domain }
    }

    /// The token of one value, appended to `out`.
    pub fn token_into(&self, value: &str, out: &mut String) {
        let digest: [u8; 32] = match &self.method {
            Method::KeyedHash { domain_key } => *blake3::keyed_hash(domain_key, value.as_bytes()).as_bytes(),
            Method::Hmac { mac } => {
                let mut mac = mac.clone();
                mac.update(value.as_bytes());
                mac.finalize().into_bytes().into()
            }
        };
        let start = out.len();
        push_hex(out, &digest[..self.length.div_ceil(2)]);
        out.truncate(start + self.length);
        if self.keep_domain
            && let Some(at) = value.rfind('@')
        {
            out.push_str(&value[at..]);
        }
    }

    /// Tokens for every value; null stays null.
    ///
    /// ```
    /// use anonymize::job::config::PseudonymMethod;
    /// use anonymize::keys::Key;
    /// use anonymize::transform::pseudonymize::Pseudonymizer;
    /// use arrow::array::{Array, StringArray};
    /// let key = Key::from_hex(&"00".repeat(32)).unwrap();
    /// let p = Pseudonymizer::new(&key, PseudonymMethod::KeyedHash, "email", 16, true);
    /// let tokens = p.pseudonymize(&StringArray::from(vec![Some("ann@example.com"), None]));
    /// assert!(tokens.value(0).ends_with("@example.com"));
    /// assert!(tokens.is_null(1));
    /// ```
    pub fn pseudonymize(&self, values: &StringArray) -> StringArray {
        let extra = if self.keep_domain { 24 } else { 0 };
        let mut builder = StringBuilder::with_capacity(values.len(), values.len() * (self.length + extra));
        let mut token = String::with_capacity(self.length + 64);
        for value in values.iter() {
            match value {
                Some(v) => {
                    token.clear();
                    self.token_into(v, &mut token);
                    builder.append_value(&token);
                }
                None => builder.append_null(),
            }
        }
        builder.finish()
    }
}

impl Drop for Pseudonymizer {
    fn drop(&mut self) {
        if let Method::KeyedHash { domain_key } = &mut self.method {
            zeroize::Zeroize::zeroize(domain_key);
        }
    }
}

/// A pseudonymization method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PseudonymMethod {
    /// BLAKE3 keyed hash with a per-domain derived key.
    #[default]
    KeyedHash,
    /// HMAC-SHA256 over `domain ‖ 0x00 ‖ value`.
    HmacSha256,
}
