//! The file system as an attacker or a hurried user leaves it: paths that are FIFOs, devices or
//! folders where a file is expected, symbolic links, and files that do not exist yet.
//!
//! Every file the tool reads by name (job, key, hierarchy, input, consent list, ledger, lineage)
//! is opened with [`open_regular`], which refuses anything but a regular file without blocking
//! on it (a FIFO would hang the run forever; `/dev/zero` would be read until memory runs out).
//! Every file it writes is checked with [`check_replaceable`] and compared by [`real_path`], so
//! that two names for one file are recognized as one.

use std::fs::{File, FileType};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// What a non-regular file is, for messages.
pub fn kind_name(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

fn not_regular(file_type: FileType) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("it is {}, not a regular file", kind_name(file_type)))
}

/// Opens an existing regular file for reading (symbolic links are followed). Anything else is
/// refused without blocking: the file is opened non-blocking and checked again once open, so a
/// FIFO swapped in between cannot hang the caller.
///
/// # Errors
/// The file is missing or unreadable, or is a FIFO, device, socket or folder.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    Ok(file)
}

/// Reads a regular file of at most `limit` bytes.
///
/// # Errors
/// As [`open_regular`], or the file is larger than `limit`.
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("it is larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// Refuses a path that exists and is not a regular file (after following symbolic links):
/// a run never replaces a device, FIFO, socket or folder, whatever `overwrite` says.
///
/// # Errors
/// An error naming what the path is.
pub fn check_replaceable(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(not_regular(m.file_type())),
        _ => Ok(()),
    }
}

/// The real path of `path`, whether or not it exists yet: symbolic links and `..` are resolved
/// in every part that exists (a dangling link is followed to where it points), and the parts that
/// do not exist yet are appended. Two names of one file (a link and its target, `a/../b` and
/// `b`) give the same real path.
pub fn real_path(path: &Path) -> PathBuf {
    real_path_within(path, 40)
}

fn real_path_within(path: &Path, links_left: u32) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |d| d.join(path))
    };
    // A dangling symbolic link: where it points is where the file would be written.
    if links_left > 0
        && let Ok(target) = std::fs::read_link(&absolute)
    {
        let base = absolute.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        return real_path_within(&base.join(target), links_left - 1);
    }
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return lexical(&absolute);
    };
    if parent.as_os_str().is_empty() {
        return lexical(&absolute);
    }
    real_path_within(parent, links_left).join(name)
}

/// `.` and `name/..` removed without the file system (for parts that do not exist).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether `path` is a folder that holds only what a cluster's run writes there: regular files
/// named `part-*`, the `_SUCCESS` marker, and hidden temporaries. Such a folder is an output a
/// distributed run may replace (with `overwrite`); any other folder never is.
///
/// # Errors
/// The folder cannot be listed.
pub fn is_parts_folder(path: &Path) -> io::Result<bool> {
    if !std::fs::symlink_metadata(path)?.is_dir() {
        return Ok(false);
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let named = name.starts_with("part-") || name == "_SUCCESS" || name.starts_with('.');
        if !entry.file_type().is_ok_and(|t| t.is_file()) || !named {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key.fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        // Opening a FIFO for reading would block until a writer came; this must not.
        let error = open_regular(&fifo).unwrap_err();
        assert!(error.to_string().contains("FIFO"), "{error}");
        assert!(read_bounded(Path::new("/dev/zero"), 4096).unwrap_err().to_string().contains("character device"));
        assert!(open_regular(dir.path()).unwrap_err().to_string().contains("folder"));
        assert!(check_replaceable(Path::new("/dev/null")).is_err());
        assert!(check_replaceable(&dir.path().join("missing")).is_ok());
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 5000]).unwrap();
        assert!(read_bounded(&big, 4096).unwrap_err().to_string().contains("larger than 4096"));
        assert_eq!(read_bounded(&big, 5000).unwrap().len(), 5000);
    }

    #[test]
    fn real_paths_resolve_links_and_parents_of_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("state")).unwrap();
        std::fs::write(root.join("state/budget.json"), "{}").unwrap();
        std::os::unix::fs::symlink(root.join("state/budget.json"), root.join("link.json")).unwrap();
        std::os::unix::fs::symlink(root.join("state"), root.join("alias")).unwrap();
        std::os::unix::fs::symlink(root.join("state/later.json"), root.join("dangling.json")).unwrap();
        assert_eq!(real_path(&root.join("link.json")), root.join("state/budget.json"));
        assert_eq!(real_path(&root.join("alias/../state/budget.json")), root.join("state/budget.json"));
        assert_eq!(real_path(&root.join("alias/new/out.csv")), root.join("state/new/out.csv"));
        assert_eq!(real_path(&root.join("dangling.json")), root.join("state/later.json"));
    }
}
