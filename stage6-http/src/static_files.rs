//! Static files: turning a URL path into a file under a root directory, safely.
//!
//! The danger is a path that climbs out of the root: `/../../etc/passwd`, the same with the
//! dots or the slash percent-encoded (`%2e%2e`, `..%2f`), a NUL that truncates the name at the
//! C level, or a symbolic link inside the root pointing outside it. The defence is in layers:
//!
//! 1. decode each segment on its own, and reject a decoded `/`, `\` or NUL (an encoded slash
//!    would otherwise make one segment into two *after* the `..` check); decode once only, so
//!    `%252e%252e` is a file literally named `%2e%2e`, not `..`;
//! 2. reject `..` segments outright (even ones that would stay inside the root: there is no
//!    reason for a real link to contain one), skip `.` and empty segments, hide dot-files;
//! 3. canonicalize the result (resolving every symlink) and check it is still inside the
//!    canonical root, which catches the symlink escape the textual checks cannot see;
//! 4. a directory serves its `index.html` (checked again the same way), or is a 404.
//!
//! **Symbolic links** are followed when they end inside the root (a book whose assets are
//! linked in still works) and answered exactly like a missing file (404, same body) when they
//! end outside it, whether what they point at exists or not: a 403 for an existing target and
//! a 404 for a missing one would let a client probe the server's file system through any
//! outward link (does `/home/alice` exist?). The check and the
//! `open` are two system calls, so someone who can *write* inside the root could swap a checked
//! directory for a link between them; the root is trusted not to change under attack (closing
//! that race needs `openat2(RESOLVE_BENEATH)`, Linux only).
//!
//! The file is opened once and its size taken from the open file (`fstat`), so the
//! `Content-Length` describes what is read. Small files are read whole; larger ones become a
//! sized streaming body (Content-Length, then 64 KiB pieces), which the connection loop writes
//! piece by piece, so a large file never sits in memory. A `HEAD` gets the headers without a
//! read. (The reads are ordinary blocking `read`s on the worker thread: for files in the page
//! cache they take microseconds; a server on slow disks would hand them to the blocking pool.)

use crate::query::percent_decode;
use crate::request::Request;
use crate::response::{Response, reason};
use stage2_select_callbacks::net::{AcceptError, classify_accept_error};
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why a path cannot be served, with the status to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticError {
    /// Malformed: a bad `%XX`, an encoded `/` or `\`, a NUL (400).
    BadPath,
    /// Trying to leave the root with `..` (403).
    Forbidden,
    /// No such file, a hidden one, or a symlink out of the root (404).
    NotFound,
}

impl StaticError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            StaticError::BadPath => 400,
            StaticError::Forbidden => 403,
            StaticError::NotFound => 404,
        }
    }
}

impl fmt::Display for StaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            StaticError::BadPath => "malformed path",
            StaticError::Forbidden => "path leaves the root",
            StaticError::NotFound => "no such file",
        };
        f.write_str(text)
    }
}

impl std::error::Error for StaticError {}

/// A file that may be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical path of the file (inside the root).
    pub path: PathBuf,
    /// `Content-Type` to send, from the extension.
    pub content_type: &'static str,
    /// Size in bytes when resolved.
    pub len: u64,
    /// True when the URL named a directory and this is its `index.html`.
    pub index: bool,
}

/// A directory whose files may be served.
#[derive(Debug, Clone)]
pub struct StaticRoot {
    root: PathBuf,
}

impl StaticRoot {
    /// Serves files under `dir` (which must exist and be a directory).
    pub fn new(dir: impl AsRef<Path>) -> io::Result<StaticRoot> {
        let root = dir.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(StaticRoot { root })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    // ANCHOR: resolve
    /// Maps a URL path (still percent-encoded, e.g. a router's `*rest` capture or a whole
    /// request path) to a file under the root.
    pub fn resolve(&self, url_path: &str) -> Result<Resolved, StaticError> {
        let mut candidate = self.root.clone();
        for raw in url_path.split('/') {
            let segment = percent_decode(raw.as_bytes(), false).map_err(|_| StaticError::BadPath)?;
            if segment.iter().any(|&b| b == b'/' || b == b'\\' || b == 0) {
                return Err(StaticError::BadPath);
            }
            match &*segment {
                b"" | b"." => continue,
                b".." => return Err(StaticError::Forbidden),
                name if name.starts_with(b".") => return Err(StaticError::NotFound),
                name => candidate.push(OsStr::from_bytes(name)),
            }
        }
        let file = self.inside_root(&candidate)?;
        let index = file.is_dir();
        let file = if index { self.inside_root(&file.join("index.html"))? } else { file };
        let metadata = file.metadata().map_err(|_| StaticError::NotFound)?;
        // `a.txt/` names a directory that is not there.
        if !metadata.is_file() || (!index && url_path.ends_with('/')) {
            return Err(StaticError::NotFound);
        }
        Ok(Resolved { content_type: content_type(&file), len: metadata.len(), path: file, index })
    }
    // ANCHOR_END: resolve

    // ANCHOR: serve
    /// The answer to `req` for `url_path`, the part of its path under the root (a router's
    /// `*path` capture): the file (headers only for `HEAD`), a redirect from a directory's name
    /// to the same name with a `/`, or the status of what went wrong.
    pub fn serve(&self, req: &Request, url_path: &str) -> Response {
        let resolved = match self.resolve(url_path) {
            Ok(resolved) => resolved,
            Err(err) => {
                let status = err.status();
                return Response::text(format!("{status} {}: {err}\n", reason(status))).status(status);
            }
        };
        if resolved.index && !req.path().ends_with('/') {
            // A browser resolves the relative links of `dir/index.html` against the URL it
            // asked for: served as `/static/dir` they would point into `/static/`. The path
            // went through the parser, so it has no CR or LF to inject into a header.
            return Response::error(301).header("Location", format!("{}/", req.path()));
        }
        file_response(&resolved, req.is_head()).unwrap_or_else(|err| open_failed(&err))
    }
    // ANCHOR_END: serve

    /// Resolves symlinks in `path` and insists the real path is under the root. Anything
    /// that fails, a link out of the root included, is "no such file": the answer must not
    /// tell what exists outside the root.
    fn inside_root(&self, path: &Path) -> Result<PathBuf, StaticError> {
        let real = path.canonicalize().map_err(|_| StaticError::NotFound)?;
        if real.starts_with(&self.root) { Ok(real) } else { Err(StaticError::NotFound) }
    }
}

// ANCHOR: open_failed
/// The answer when a resolved file cannot be opened or read. Out of file descriptors
/// (`EMFILE`, `ENFILE`: sorted by stage 2's accept rule) is the server's trouble, not the
/// file's: a 404 there would tell the client, and every cache on the way, that an existing
/// file is gone. `503` with `Retry-After` says "try again in a second", and is not cached.
fn open_failed(err: &io::Error) -> Response {
    match (err.kind(), classify_accept_error(err)) {
        (_, AcceptError::OutOfDescriptors) => Response::error(503).header("Retry-After", "1"),
        (io::ErrorKind::PermissionDenied, _) => Response::error(403),
        _ => Response::error(404),
    }
}
// ANCHOR_END: open_failed

/// Files up to this size are read into memory whole; larger ones are streamed.
const WHOLE_FILE_MAX: u64 = 64 * 1024;

// ANCHOR: file_response
/// A 200 response carrying the file: read whole if small, streamed if large, not read at all
/// for a `HEAD` (`head`). The length is the open file's, not the one [`StaticRoot::resolve`]
/// saw, and something that is no longer a regular file by now is refused (a FIFO would make
/// the reads wait for a writer).
pub fn file_response(resolved: &Resolved, head: bool) -> io::Result<Response> {
    let mut file = File::open(&resolved.path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no longer a regular file"));
    }
    let len = metadata.len();
    let response = Response::new(200).content_type(resolved.content_type);
    if head {
        // The serializer writes `Content-Length: len` and, for a HEAD, never asks for a piece.
        return Ok(response.stream_sized(len, Box::new(std::iter::empty())));
    }
    if len <= WHOLE_FILE_MAX {
        let mut body = Vec::with_capacity(len as usize);
        file.read_to_end(&mut body)?;
        return Ok(response.body(body));
    }
    Ok(response.stream_sized(len, Box::new(FilePieces { file, remaining: len })))
}
// ANCHOR_END: file_response

/// Reads a file in 64 KiB pieces, stopping at the length announced in Content-Length even if
/// the file grew meanwhile (a file that shrank makes the response fail and the connection
/// close, as it must: the promised length can no longer be kept).
struct FilePieces {
    file: File,
    remaining: u64,
}

impl Iterator for FilePieces {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let want = self.remaining.min(64 * 1024) as usize;
        let mut piece = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match self.file.read(&mut piece[filled..]) {
                Ok(0) => {
                    return Some(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank")));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e)),
            }
        }
        self.remaining -= want as u64;
        Some(Ok(piece))
    }
}

/// `Content-Type` from a file's extension (case-insensitive); unknown: octet-stream.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(OsStr::to_str).unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" | "rs" | "toml" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stage1_blocking::workshop::testkit::TempDir;
    use std::fs;

    /// root/ {index.html, a.txt, sub/{b.CSS, index.html}, empty/, .secret, link-out -> outside}
    /// outside/ {secret.txt}
    fn fixture() -> (TempDir, TempDir, StaticRoot) {
        let top = TempDir::new("stage6-static").unwrap();
        let outside = TempDir::new("stage6-static").unwrap();
        let root = top.path().join("www");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join("index.html"), "<h1>home</h1>").unwrap();
        fs::write(root.join("a.txt"), "alpha").unwrap();
        fs::write(root.join("sp ace.txt"), "space").unwrap();
        fs::write(root.join("sub/b.CSS"), "b{}").unwrap();
        fs::write(root.join("sub/index.html"), "sub").unwrap();
        fs::write(root.join(".secret"), "hidden").unwrap();
        fs::write(top.path().join("sibling.txt"), "next to root").unwrap();
        fs::write(outside.path().join("secret.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link-out")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link-in.txt")).unwrap();
        let static_root = StaticRoot::new(&root).unwrap();
        (top, outside, static_root)
    }

    fn name(resolved: &Resolved) -> String {
        resolved.path.file_name().unwrap().to_string_lossy().into_owned()
    }

    #[test]
    fn files_and_content_types() {
        let (_t, _o, root) = fixture();
        let a = root.resolve("/a.txt").unwrap();
        assert_eq!((name(&a).as_str(), a.content_type, a.len), ("a.txt", "text/plain; charset=utf-8", 5));
        let b = root.resolve("sub/b.CSS").unwrap();
        assert_eq!(b.content_type, "text/css; charset=utf-8");
        assert_eq!(name(&root.resolve("/sp%20ace.txt").unwrap()), "sp ace.txt");
        assert_eq!(name(&root.resolve("/./sub//b.CSS").unwrap()), "b.CSS");
    }

    #[test]
    fn directories_serve_index_html() {
        let (_t, _o, root) = fixture();
        let index = root.resolve("/").unwrap();
        assert_eq!(index.path, root.root().join("index.html"));
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(root.resolve("/sub/").unwrap().path, root.root().join("sub/index.html"));
        assert_eq!(root.resolve("/sub").unwrap().path, root.root().join("sub/index.html"));
        assert_eq!(root.resolve("/empty/"), Err(StaticError::NotFound));
        assert!(root.resolve("/sub").unwrap().index && !root.resolve("/sub/b.CSS").unwrap().index);
    }

    #[test]
    fn dot_dot_is_forbidden_in_every_spelling() {
        let (_t, _o, root) = fixture();
        for path in
            ["/../sibling.txt", "/sub/../a.txt", "/%2e%2e/sibling.txt", "/%2E%2E", "/.%2e/x", "/sub/%2e."]
        {
            assert_eq!(root.resolve(path), Err(StaticError::Forbidden), "{path}");
        }
    }

    #[test]
    fn encoded_separators_and_nul_are_bad() {
        let (_t, _o, root) = fixture();
        for path in
            ["/..%2fsibling.txt", "/sub%2fb.CSS", "/..%5csibling.txt", "/a.txt%00.html", "/%zz", "/a%"]
        {
            assert_eq!(root.resolve(path), Err(StaticError::BadPath), "{path}");
        }
        assert_eq!(StaticError::BadPath.status(), 400);
    }

    #[test]
    fn symlink_escape_is_not_found_but_inside_links_work() {
        let (_t, outside, root) = fixture();
        // Out of the root: the same answer as a missing file, whether the target exists or not.
        std::os::unix::fs::symlink(outside.path().join("missing.txt"), root.root().join("dangling")).unwrap();
        for path in ["/link-out/secret.txt", "/link-out", "/link-out/missing.txt", "/dangling"] {
            assert_eq!(root.resolve(path), Err(StaticError::NotFound), "{path}");
        }
        assert_eq!(name(&root.resolve("/link-in.txt").unwrap()), "a.txt");
    }

    #[test]
    fn missing_and_hidden_files_are_404() {
        let (_t, _o, root) = fixture();
        assert_eq!(root.resolve("/nope.txt"), Err(StaticError::NotFound));
        assert_eq!(root.resolve("/.secret"), Err(StaticError::NotFound));
        assert_eq!(root.resolve("/%2esecret"), Err(StaticError::NotFound));
        assert_eq!(root.resolve("/a.txt/x"), Err(StaticError::NotFound));
        assert_eq!(root.resolve("/a.txt/"), Err(StaticError::NotFound));
        // Decoded once: `%252e%252e` is a name with `%2e%2e` in it, not `..`.
        assert_eq!(root.resolve("/%252e%252e/sibling.txt"), Err(StaticError::NotFound));
    }

    #[test]
    fn root_must_be_a_directory() {
        let (_t, _o, root) = fixture();
        assert!(StaticRoot::new(root.root().join("a.txt")).is_err());
        assert!(StaticRoot::new(root.root().join("missing")).is_err());
    }

    #[test]
    fn small_files_are_whole_and_large_ones_streamed() {
        let (_t, _o, root) = fixture();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(root.root().join("big.bin"), &big).unwrap();
        let small = file_response(&root.resolve("/a.txt").unwrap(), false).unwrap();
        assert!(matches!(small.body_ref(), crate::response::Body::Full(b) if &b[..] == b"alpha"));
        let large = file_response(&root.resolve("/big.bin").unwrap(), false).unwrap();
        assert_eq!(large.header_value("content-type"), Some("application/octet-stream"));
        assert!(matches!(large.body_ref(), crate::response::Body::SizedStream { len: 200_000, .. }));
        let (head, body) = written(large, false);
        assert!(head.contains("Content-Length: 200000\r\n"), "{head}");
        assert_eq!(body, big);
    }

    #[test]
    fn head_sends_the_length_and_reads_nothing() {
        let (_t, _o, root) = fixture();
        fs::write(root.root().join("big.bin"), vec![7u8; 100_000]).unwrap();
        for (path, len) in [("/a.txt", 5), ("/big.bin", 100_000)] {
            let response = file_response(&root.resolve(path).unwrap(), true).unwrap();
            let (head, body) = written(response, true);
            assert!(head.contains(&format!("Content-Length: {len}\r\n")), "{head}");
            assert!(body.is_empty());
        }
    }

    /// Serializes `response` for an HTTP/1.1 request: (head, body).
    fn written(response: Response, head_request: bool) -> (String, Vec<u8>) {
        let ctx = crate::response::WriteContext {
            version: crate::message::Version::Http11,
            head_request,
            keep_alive: true,
            date: b"Sun, 06 Nov 1994 08:49:37 GMT",
        };
        let mut out = Vec::new();
        assert!(!response.write_all_to(&mut out, &ctx).unwrap());
        let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (String::from_utf8_lossy(&out[..head_end]).into_owned(), out[head_end..].to_vec())
    }

    #[test]
    fn out_of_descriptors_is_503_not_404() {
        // EMFILE (24 on Linux and the BSDs) while opening an existing file.
        let response = open_failed(&io::Error::from_raw_os_error(24));
        assert_eq!(response.status_code(), 503);
        assert_eq!(response.header_value("retry-after"), Some("1"));
        assert_eq!(open_failed(&io::ErrorKind::NotFound.into()).status_code(), 404);
    }

    #[test]
    fn content_type_table() {
        assert_eq!(content_type(Path::new("x.PNG")), "image/png");
        assert_eq!(content_type(Path::new("x.tar.gz")), "application/octet-stream");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
