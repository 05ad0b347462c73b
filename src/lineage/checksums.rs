//! BLAKE3 checksums of the files a run read and wrote, recorded in the COMPLETE event's
//! `anonymize_checksums` run facet and recomputed by `anonymize verify`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a file was to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The job file.
    Job,
    /// A file of the input dataset.
    Input,
    /// A file of a consent exclusion list.
    ConsentList,
    /// The de-identified table.
    Output,
    /// A differentially private aggregate release.
    Release,
    /// The decisions file (levels or split tree, hierarchies, criteria).
    Decisions,
    /// The privacy report.
    Report,
}

impl Role {
    /// The role as recorded in lineage (`consent_list`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Job => "job",
            Role::Input => "input",
            Role::ConsentList => "consent_list",
            Role::Output => "output",
            Role::Release => "release",
            Role::Decisions => "decisions",
            Role::Report => "report",
        }
    }
}

/// One file's checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileChecksum {
    pub role: Role,
    /// Absolute path.
    pub path: String,
    pub size: u64,
    /// Lowercase hex BLAKE3 of the whole file.
    pub blake3: String,
}

/// Why a checksum could not be computed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{}` to compute its checksum", path.display())]
pub struct ChecksumError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// BLAKE3 of a file: memory-mapped and hashed on all cores when large.
///
/// # Errors
/// [`ChecksumError`] when the file cannot be read.
pub fn file_blake3(path: &Path) -> Result<(u64, String), ChecksumError> {
    let error = |source| ChecksumError { path: path.to_path_buf(), source };
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path).map_err(error)?;
    Ok((hasher.count(), hasher.finalize().to_hex().to_string()))
}

/// Checksums of `files`: each with its role, the name it is recorded under and where its
/// content is now (a staged file's temporary name, before it is published under that name). A
/// folder (a cluster's output of part files) gives one checksum per file in it, in name order,
/// hidden files left out.
///
/// # Errors
/// The first file that cannot be read.
pub fn compute<'a>(
    files: impl IntoIterator<Item = (Role, &'a Path, &'a Path)>,
) -> Result<Vec<FileChecksum>, ChecksumError> {
    let mut sums = Vec::new();
    for (role, name, content) in files {
        if content.is_dir() {
            let error = |source| ChecksumError { path: content.to_path_buf(), source };
            let mut parts: Vec<String> = std::fs::read_dir(content)
                .map_err(error)?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            parts.sort();
            for part in parts {
                let (size, blake3) = file_blake3(&content.join(&part))?;
                let path = super::absolute(&name.join(&part)).display().to_string();
                sums.push(FileChecksum { role, path, size, blake3 });
            }
        } else {
            let (size, blake3) = file_blake3(content)?;
            sums.push(FileChecksum { role, path: super::absolute(name).display().to_string(), size, blake3 });
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_blake3_of_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        // Larger than one mmap/rayon chunk, with an uneven tail.
        let bytes: Vec<u8> = (0..300_001u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let (size, hex) = file_blake3(&path).unwrap();
        assert_eq!(size, 300_001);
        assert_eq!(hex, blake3::hash(&bytes).to_hex().to_string());
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(file_blake3(&empty).unwrap().1, blake3::hash(b"").to_hex().to_string());
        assert!(file_blake3(&dir.path().join("missing")).is_err());
        // The names `verify` prints are the ones lineage records.
        for role in
            [Role::Job, Role::Input, Role::ConsentList, Role::Output, Role::Release, Role::Decisions, Role::Report]
        {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
    }
}
