//! Where events go: appended as one JSON line to the job's `lineage` file (as OpenLineage's
//! file transport does), and POSTed to an OpenLineage HTTP endpoint when `OPENLINEAGE_URL` is
//! set. The file is the record: failing to write it fails the run. The endpoint is a
//! courtesy: failing to reach it is a warning.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
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
/// file never interleave, and syncs it to disk.
///
/// # Errors
/// [`LineageFileError`] when the file or its folder cannot be written.
pub fn append(path: &Path, event: &serde_json::Value) -> Result<(), LineageFileError> {
    let error = |source| LineageFileError { path: path.to_path_buf(), source };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(error)?;
    }
    let mut line = serde_json::to_string(event).map_err(|e| error(std::io::Error::other(e)))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(error)?;
    file.lock().map_err(error)?;
    file.write_all(line.as_bytes()).map_err(error)?;
    file.sync_data().map_err(error)
}

/// An OpenLineage HTTP endpoint (plain `http://`; the URL's user info is never printed).
#[derive(Debug, Clone)]
pub struct Endpoint {
    host: String,
    port: u16,
    path: String,
    api_key: Option<String>,
}

impl Endpoint {
    /// `{url}/{endpoint}` (endpoint default `api/v1/lineage`).
    ///
    /// # Errors
    /// A message when the URL is not `http://host[:port][/prefix]`.
    pub fn new(url: &str, endpoint: Option<&str>, api_key: Option<&str>) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                "OPENLINEAGE_URL uses https, which this build does not speak; point it at a plain-http endpoint (a local proxy or collector) or rely on the lineage file".to_string()
            } else {
                "OPENLINEAGE_URL is not an http:// URL".to_string()
            });
        };
        let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        // user:password@ is never kept or printed.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                (host.to_string(), port.parse::<u16>().map_err(|_| "OPENLINEAGE_URL has a bad port".to_string())?)
            }
            _ => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err("OPENLINEAGE_URL has no host".to_string());
        }
        let endpoint = endpoint.unwrap_or("api/v1/lineage").trim_matches('/');
        let prefix = prefix.trim_matches('/');
        let path = if prefix.is_empty() { format!("/{endpoint}") } else { format!("/{prefix}/{endpoint}") };
        Ok(Self { host, port, path, api_key: api_key.map(str::to_string) })
    }

    /// `host:port/path`, for messages.
    pub fn describe(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.path)
    }

    /// POSTs one event; any failure comes back as a message for a warning.
    ///
    /// # Errors
    /// A message saying what failed (connection, timeout, or the status the server answered).
    pub fn post(&self, event: &serde_json::Value) -> Result<(), String> {
        let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let failed = |what: &str, e: std::io::Error| format!("{what} {}: {e}", self.describe());
        let address = (self.host.trim_matches(|c| c == '[' || c == ']'), self.port)
            .to_socket_addrs()
            .map_err(|e| failed("cannot resolve", e))?
            .next()
            .ok_or_else(|| format!("cannot resolve {}", self.describe()))?;
        let mut stream =
            TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(|e| failed("cannot connect to", e))?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| failed("cannot use", e))?;
        stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| failed("cannot use", e))?;
        let mut request = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: anonymize/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.path,
            self.host,
            self.port,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        if let Some(key) = &self.api_key {
            request.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).map_err(|e| failed("cannot send to", e))?;
        stream.write_all(&body).map_err(|e| failed("cannot send to", e))?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < 12 {
            match stream.read(&mut head[read..]) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(e) => return Err(failed("no answer from", e)),
            }
        }
        let status_line = String::from_utf8_lossy(&head[..read]);
        let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok());
        match status {
            Some(code) if (200..300).contains(&code) => Ok(()),
            Some(code) => Err(format!("{} answered HTTP {code}", self.describe())),
            None => Err(format!("{} did not answer HTTP", self.describe())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_parsed_without_keeping_credentials() {
        let e = Endpoint::new("http://user:secret@marquez:5000", None, None).unwrap();
        assert_eq!(e.describe(), "http://marquez:5000/api/v1/lineage");
        let e = Endpoint::new("http://collector/prefix/", Some("/v2/events"), None).unwrap();
        assert_eq!(e.describe(), "http://collector:80/prefix/v2/events");
        assert!(Endpoint::new("https://x", None, None).unwrap_err().contains("https"));
        assert!(Endpoint::new("ftp://x", None, None).is_err());
        assert!(Endpoint::new("http://x:notaport", None, None).is_err());
    }
}
