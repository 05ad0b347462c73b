//! `anonymize keygen`.

use super::Failure;
use anonymize::keys::Key;

pub fn run() -> Result<(), Failure> {
    let key = Key::generate().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    println!("{}", key.to_hex());
    eprintln!(
        "key id {} (store the key in a secret manager or a file only you can read; never in a job file)",
        key.id()
    );
    Ok(())
}
