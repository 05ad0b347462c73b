//! Accountability for a run, downstream of the runner: OpenLineage events (START, then
//! COMPLETE or FAIL) appended to the job's `lineage` file and POSTed to `OPENLINEAGE_URL`
//! ([`events`], [`transport`]); BLAKE3 checksums of the job file, every input and every output
//! ([`checksums`]), which `anonymize verify` recomputes ([`verify`]); and the privacy report
//! ([`report`]). Nothing here ever holds a cell value or a key: only names, counts, parameters
//! and checksums.

pub mod checksums;
pub mod events;
pub mod openlineage;
pub mod report;
pub mod transport;
pub mod verify;

use std::path::{Path, PathBuf};

/// Where events go and which parent run they belong to, read from the environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `OPENLINEAGE_URL`: events are POSTed to `{url}/{endpoint}` (unless
    /// `OPENLINEAGE_DISABLED` is `true`).
    pub url: Option<String>,
    /// `OPENLINEAGE_ENDPOINT` (default `api/v1/lineage`).
    pub endpoint: Option<String>,
    /// `OPENLINEAGE_API_KEY`, sent as a bearer token. Never printed.
    pub api_key: Option<String>,
    /// The parent run (`OPENLINEAGE_PARENT_ID` or its three parts), if any.
    pub parent: Option<events::Parent>,
    /// Problems with the variables themselves (reported as warnings, never fatal).
    pub warnings: Vec<String>,
}

impl Environment {
    /// Reads the `OPENLINEAGE_*` variables through `get` (the process environment in the CLI).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut warnings = Vec::new();
        let parent = events::Parent::from_lookup(&get, &mut warnings);
        // OpenLineage clients' switch: no events leave the machine (the job's file still gets them).
        let disabled = get("OPENLINEAGE_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        Self {
            url: get("OPENLINEAGE_URL").filter(|_| !disabled),
            endpoint: get("OPENLINEAGE_ENDPOINT"),
            api_key: get("OPENLINEAGE_API_KEY"),
            parent,
            warnings,
        }
    }
}

/// An absolute form of `path` (relative to the working folder), without resolving links.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The current time as RFC 3339 in UTC with milliseconds, as OpenLineage events carry it.
pub fn now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let millis = i64::try_from(now.as_millis()).unwrap_or(0);
    chrono::DateTime::from_timestamp_millis(millis)
        .map_or_else(String::new, |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_and_openlineage_disabled_stops_posting() {
        let vars = |extra: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                [("OPENLINEAGE_URL", "http://marquez:5000"), ("OPENLINEAGE_API_KEY", " key ")]
                    .iter()
                    .chain(extra)
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let on = Environment::from_lookup(vars(&[]));
        assert_eq!(on.url.as_deref(), Some("http://marquez:5000"));
        assert_eq!(on.api_key.as_deref(), Some("key"));
        assert!(Environment::from_lookup(vars(&[("OPENLINEAGE_DISABLED", "TRUE")])).url.is_none());
        assert!(Environment::from_lookup(vars(&[("OPENLINEAGE_DISABLED", "false")])).url.is_some());
    }
}
