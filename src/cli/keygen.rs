//! `anonymize keygen`.

use super::Failure;
use anonymize::keys::Key;

pub fn run() -> Result<(), Failure> {
    let key = Key::generate().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    // A key nobody received is no key: failing to write it is a failure (exit 1).
    super::emit(&format!("{}\n", key.to_hex()), "the key")?;
    eprintln!(
        "key id {} (store the key in a secret manager or a file only you can read; never in a job file)",
        key.id()
    );
    Ok(())
}
