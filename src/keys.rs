//! The job's secret key: loaded from an environment variable or a file, never from the job
//! file; identified in lineage and reports only by its key id.

use crate::job::KeySource;
use std::fmt;
use std::path::PathBuf;
use zeroize::{Zeroize, Zeroizing};

/// A 256-bit key. Its bytes never leave this type except into key derivation, and `Debug`
/// does not show them.
#[derive(Clone)]
pub struct Key([u8; 32]);

/// The public demo key shipped in `sample_data/keys/`. Runs that use it are warned.
pub const DEMO_KEY_ID: &str = "586859865f43fbb7";

/// The most a key file may hold: a key with generous white space around it.
const KEY_FILE_LIMIT: u64 = 4096;

/// Why a key could not be loaded. Names the source, never the content.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key variable `{name}` is not set")]
    MissingEnv { name: String },
    #[error("cannot read the key file `{path}`")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key from {source_name} is not 64 hexadecimal characters (32 bytes)")]
    Malformed { source_name: String },
    #[error("the operating system's random generator failed")]
    Entropy,
}

impl Key {
    /// Parses 64 hex characters; surrounding white space is ignored.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() != 64 {
            return None;
        }
        // Every copy of key material is wiped when dropped (`zeroize` cannot be optimised away).
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            bytes[i] = (high * 16 + low) as u8;
        }
        Some(Self(*bytes))
    }

    /// Loads the key from its source.
    ///
    /// # Errors
    /// The variable is unset, the file unreadable, or the content not a key.
    pub fn load(source: &KeySource) -> Result<Self, KeyError> {
        let (text, source_name) = match source {
            KeySource::Env(name) => {
                let value = std::env::var(name).map_err(|_| KeyError::MissingEnv { name: name.clone() })?;
                (Zeroizing::new(value), format!("environment variable `{name}`"))
            }
            KeySource::File(path) => {
                // A key file holds 64 characters and some white space; reading is bounded and
                // special files are refused, so `/dev/zero` or a FIFO cannot exhaust or hang a run.
                let bytes = Zeroizing::new(
                    crate::files::read_bounded(path, KEY_FILE_LIMIT)
                        .map_err(|source| KeyError::File { path: path.clone(), source })?,
                );
                let source_name = format!("file `{}`", path.display());
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| KeyError::Malformed { source_name: source_name.clone() })?;
                (Zeroizing::new(text.to_string()), source_name)
            }
        };
        Self::from_hex(&text).ok_or(KeyError::Malformed { source_name })
    }

    /// A fresh random key from the operating system.
    ///
    /// # Errors
    /// [`KeyError::Entropy`] when the OS generator fails.
    pub fn generate() -> Result<Self, KeyError> {
        use rand::TryRng;
        let mut bytes = [0u8; 32];
        rand::rngs::SysRng.try_fill_bytes(&mut bytes).map_err(|_| KeyError::Entropy)?;
        Ok(Self(bytes))
    }

    /// Lowercase hex, for `anonymize keygen` only.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The first 16 hex characters of `BLAKE3(key)`: tells keys apart without revealing them.
    pub fn id(&self) -> String {
        blake3::hash(&self.0).to_hex()[..16].to_string()
    }

    /// Whether this is the public demo key.
    pub fn is_demo(&self) -> bool {
        self.id() == DEMO_KEY_ID
    }

    /// The raw bytes, for key derivation.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(id {})", self.id())
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Whether `text` looks like key material rather than a name: 32 or more hexadecimal digits, or
/// a base64 run of 24 or more characters that mixes upper case, lower case and digits (or
/// carries base64's `+`, `/` or `=` padding). Variable names, file names and column names
/// almost never look like that; keys pasted into the wrong place do.
pub fn looks_like_key_material(text: &str) -> bool {
    let text = text.trim();
    let hex_run = text.len() >= 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    let base64_alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_');
    let base64_run = text.len() >= 24
        && text.bytes().all(base64_alphabet)
        && (text.ends_with('=')
            || (text.bytes().any(|b| b.is_ascii_uppercase())
                && text.bytes().any(|b| b.is_ascii_lowercase())
                && text.bytes().any(|b| b.is_ascii_digit())
                && !text.contains('_')));
    hex_run || base64_run
}

/// `text` with every run of 32 or more hexadecimal digits (the form keys take) replaced by
/// `[redacted]`. Applied to every error chain before it is printed or recorded, so that a key
/// that reached a message by a path nobody foresaw is still not shown.
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let end = bytes[i..].iter().position(|b| !b.is_ascii_alphanumeric()).map_or(bytes.len(), |n| i + n);
        if end == i {
            // A non-alphanumeric character (possibly multi-byte): copy it whole.
            let ch = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + ch]);
            i += ch;
            continue;
        }
        let word = &text[i..end];
        if word.len() >= 32 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
        i = end;
    }
    out
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends lowercase hex of bytes to `out`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_64_hex_characters() {
        let text = "00".repeat(32);
        assert!(Key::from_hex(&format!("  {text}\n")).is_some());
        assert!(Key::from_hex(&text[..62]).is_none());
        assert!(Key::from_hex(&"zz".repeat(32)).is_none());
        assert!(Key::from_hex(&format!("{text}00")).is_none());
    }

    #[test]
    fn errors_and_debug_never_show_the_key() {
        let secret = "ab".repeat(31) + "zz";
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("ANONYMIZE_TEST_BAD_KEY", &secret) };
        let error = Key::load(&KeySource::Env("ANONYMIZE_TEST_BAD_KEY".into())).unwrap_err();
        assert!(!error.to_string().contains("abab"));
        let key = Key::from_hex(&"ab".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("abab"));
    }

    #[test]
    fn key_material_is_recognized_and_redacted() {
        let key = "0123456789abcdef".repeat(4);
        assert!(looks_like_key_material(&key));
        assert!(looks_like_key_material("q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng="));
        assert!(looks_like_key_material("q83vEjRWeJASNFZ4kBI0VniQEjRWeJAS"));
        for name in ["ANONYMIZE_KEY", "PROD_PSEUDONYM_KEY_2024_Q3_CUSTOMERS", "deadbeef", "keys/pseudonym.key"] {
            assert!(!looks_like_key_material(name), "{name}");
        }
        let message = format!("the key variable `{key}` is not set; run 5f0e2a3c-1b2d-4c3e-8f9a-0b1c2d3e4f5a");
        let redacted = redact(&message);
        assert!(!redacted.contains("0123456789abcdef"), "{redacted}");
        assert!(redacted.contains("`[redacted]`") && redacted.contains("5f0e2a3c-1b2d"), "{redacted}");
        assert_eq!(redact("naïve – text 1234"), "naïve – text 1234");
    }

    #[test]
    fn the_shipped_demo_key_is_recognized() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/keys/DEMO-KEY-public-do-not-use.hex");
        let key = Key::load(&KeySource::File(path)).unwrap();
        assert!(key.is_demo(), "DEMO_KEY_ID must be the id of the shipped demo key, not {}", key.id());
        assert!(!Key::from_hex(&"00".repeat(32)).unwrap().is_demo());
    }

    #[test]
    fn generated_keys_differ_and_round_trip() {
        let a = Key::generate().unwrap();
        let b = Key::generate().unwrap();
        assert_ne!(a.to_hex(), b.to_hex());
        assert_eq!(Key::from_hex(&a.to_hex()).unwrap().id(), a.id());
    }
}
