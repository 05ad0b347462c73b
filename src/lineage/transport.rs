//! Where events go: appended as one JSON line to the job's `lineage` file (as OpenLineage's
//! file transport does), and POSTed to an OpenLineage HTTP(S) endpoint when `OPENLINEAGE_URL`
//! is set (ureq over rustls, trusting the operating system's certificate store). The file is the record: failing to write it fails the run. The endpoint is a
//! courtesy: failing to reach it is a warning.

use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(feature = "http")]
use std::time::Duration;

/// Why an event could not be appended to the lineage file.
#[derive(Debug, thiserror::Error)]
#[error("cannot append to the lineage file `{}`", path.display())]
pub struct LineageFileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Appends `event` as one line, under an exclusive lock so that concurrent runs sharing a
/// file never interleave, and syncs it to disk. The append is all or nothing: if the line
/// cannot be written whole (a full disk), the file is cut back to where it was, so no torn line
/// is left for later readers. A path that exists and is not a regular file (a FIFO, a device)
/// is refused rather than opened, which could block forever.
///
/// # Errors
/// [`LineageFileError`] when the file or its folder cannot be written.
pub fn append(path: &Path, event: &serde_json::Value) -> Result<(), LineageFileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let error = |source| LineageFileError { path: path.to_path_buf(), source };
    crate::files::check_replaceable(path).map_err(error)?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(error)?;
    }
    let mut line = serde_json::to_string(event).map_err(|e| error(std::io::Error::other(e)))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(error)?;
    crate::files::check_replaceable(path).map_err(error)?;
    if !file.metadata().map_err(error)?.is_file() {
        return Err(error(std::io::Error::other("it is not a regular file")));
    }
    file.lock().map_err(error)?;
    let before = file.metadata().map_err(error)?.len();
    if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.sync_data()) {
        // Cut the partial line away, so the events before it stay readable.
        let _ = file.set_len(before).and_then(|()| file.sync_data());
        return Err(error(e));
    }
    Ok(())
}

/// An OpenLineage HTTP(S) endpoint. User information in the URL is dropped (the API key is the
/// way to authenticate), so no secret ever reaches a message.
#[derive(Debug, Clone)]
pub struct Endpoint {
    url: String,
    api_key: Option<String>,
    #[cfg(feature = "http")]
    agent: ureq::Agent,
}

impl Endpoint {
    /// `{url}/{endpoint}` (endpoint default `api/v1/lineage`).
    ///
    /// # Errors
    /// A message when the URL is not `http(s)://host[:port][/prefix]`.
    pub fn new(url: &str, endpoint: Option<&str>, api_key: Option<&str>) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(scheme, _)| matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https"))
            .ok_or_else(|| "OPENLINEAGE_URL is not an http:// or https:// URL".to_string())?;
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        if authority.is_empty() || authority.starts_with(':') {
            return Err("OPENLINEAGE_URL has no host".to_string());
        }
        let endpoint = endpoint.unwrap_or("api/v1/lineage").trim_matches('/');
        let prefix = prefix.trim_matches('/');
        let path = if prefix.is_empty() { endpoint.to_string() } else { format!("{prefix}/{endpoint}") };
        let url = format!("{}://{authority}/{path}", scheme.to_ascii_lowercase());
        Ok(Self {
            url,
            api_key: api_key.map(str::to_string),
            #[cfg(feature = "http")]
            agent: agent(),
        })
    }

    /// The URL events go to, for messages.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// POSTs one event; any failure comes back as a message for a warning.
    ///
    /// # Errors
    /// A message saying what failed (connection, TLS, timeout, or the status the server
    /// answered), or that this build has no HTTP transport.
    pub fn post(&self, event: &serde_json::Value) -> Result<(), String> {
        #[cfg(feature = "http")]
        {
            let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
            let mut request = self.agent.post(&self.url).header("Content-Type", "application/json");
            if let Some(key) = &self.api_key {
                request = request.header("Authorization", format!("Bearer {key}"));
            }
            match request.send(&body[..]) {
                Ok(_) => Ok(()),
                Err(ureq::Error::StatusCode(code)) => Err(format!("{} answered HTTP {code}", self.url)),
                Err(e) => Err(format!("cannot reach {}: {e}", self.url)),
            }
        }
        #[cfg(not(feature = "http"))]
        {
            let _ = (event, &self.api_key);
            Err(format!("this build of anonymize has no HTTP transport (feature `http`); not sent to {}", self.url))
        }
    }
}

#[cfg(feature = "http")]
fn agent() -> ureq::Agent {
    {
        // The operating system's trust store (and SSL_CERT_FILE / SSL_CERT_DIR), so that a
        // company's own certificate authority is trusted as everywhere else on the machine.
        let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(15)))
            .user_agent(concat!("anonymize/", env!("CARGO_PKG_VERSION")))
            .build();
        config.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_parsed_without_keeping_credentials() {
        let e = Endpoint::new("http://user:secret@marquez:5000", None, None).unwrap();
        assert_eq!(e.describe(), "http://marquez:5000/api/v1/lineage");
        let e = Endpoint::new("HTTPS://collector/prefix/", Some("/v2/events"), None).unwrap();
        assert_eq!(e.describe(), "https://collector/prefix/v2/events");
        assert!(Endpoint::new("ftp://x", None, None).is_err());
        assert!(Endpoint::new("marquez:5000", None, None).is_err());
        assert!(Endpoint::new("http://:5000", None, None).is_err());
    }
}
