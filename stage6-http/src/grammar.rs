//! The HTTP/1.1 grammar both parsers share: the server's request parser ([`crate::parser`])
//! and the client's response parser ([`crate::client::response`]).
//!
//! Requests and responses are written in the same language (RFC 9110 and RFC 9112): tokens,
//! optional whitespace, decimal and hex numbers, `name: value` field lines, chunk-size lines,
//! comma-separated lists, and one rule for where a body ends. Each of those is written once,
//! here. What each side *does* with a malformed message is policy, and stays with the parser
//! that owns it: the server answers with a precise status code, the client only needs to know
//! the response is unusable, and where the client accepts more than the server would (what a
//! server may send that a request may not) its parser says so in a comment. (python-hyper's
//! h11 splits its code the same way: `_abnf.py` holds the grammar, the readers the policy.)
//!
//! Functions here look at bytes and return positions or values; none allocates.

// ANCHOR: tchar
/// RFC 9110 `tchar`: the bytes allowed in a token (a method, a header name, a transfer
/// coding). A table, so the check is one load per byte.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

/// True for a byte allowed in a token.
pub fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// Length of the token at the start of `line`, which must be followed by `end` or by the end
/// of the line. `Err` holds the first byte that is neither a token byte nor `end`: the caller
/// decides what error that byte makes.
pub fn scan_token(line: &[u8], end: u8) -> Result<usize, u8> {
    for (i, &b) in line.iter().enumerate() {
        if b == end {
            return Ok(i);
        }
        if !is_tchar(b) {
            return Err(b);
        }
    }
    Ok(line.len())
}
// ANCHOR_END: tchar

/// RFC 9110 `OWS`: optional whitespace is spaces and tabs, nothing else.
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without the spaces and tabs at either end.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// The items of a comma-separated list (`Connection: keep-alive, Upgrade`), each without its
/// surrounding whitespace. Empty items are kept (`a,,b` gives three); RFC 9110 section 5.6.1
/// says to ignore them, and each caller does.
pub fn comma_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// A non-empty run of at most 19 decimal digits, so the value fits in a `u64`: no sign, no
/// spaces, no `0x`. Content-Length values and status codes.
pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// The value of one hex digit (chunk sizes, and `%XX` escapes in [`crate::query`]).
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ANCHOR: find_byte
/// Position of the first `needle` in `haystack`, eight bytes per step ("SWAR": SIMD within a
/// register). XOR turns matching bytes into zero bytes; `(x - 0x01..) & !x & 0x80..` then has a
/// high bit set in the lowest zero byte, so `trailing_zeros` of the little-endian word finds
/// the first match. This is the trick `memchr` uses on targets without vector instructions.
pub fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(needle);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == needle).map(|i| offset + i)
}
// ANCHOR_END: find_byte

/// A control byte in a field value: anything below SP except HTAB, and DEL. VCHAR and
/// obs-text (0x80-0xFF) are allowed.
pub fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

// ANCHOR: find_control
/// The first control byte in `value`, eight bytes per step: `(x - 0x20..) & !x & 0x80..` is
/// non-zero exactly when some byte is below 0x20 (bytes >= 0x80 are masked by `!x`), and the
/// zero-byte test on `x ^ 0x7f..` finds DEL. Only a word that trips one of them (rare: a tab,
/// or an attack) is looked at byte by byte.
pub fn find_control(value: &[u8]) -> Option<u8> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let del = x ^ (ONES * 0x7f);
        let is_del = del.wrapping_sub(ONES) & !del & HIGHS;
        if below_space | is_del != 0 {
            if let Some(&b) = chunk.iter().find(|&&b| is_control(b)) {
                return Some(b);
            }
        }
    }
    chunks.remainder().iter().copied().find(|&b| is_control(b))
}
// ANCHOR_END: find_control

// ANCHOR: field_line
/// What is wrong with a field line (a header or a trailer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The line starts with whitespace: obsolete line folding (RFC 9112 section 5.2).
    ObsFold,
    /// Whitespace between the name and the colon (RFC 9112 section 5.1).
    WhitespaceBeforeColon,
    /// No colon, an empty name, or a byte that cannot be in a name.
    BadName,
    /// A control byte in the value.
    BadValue,
    /// A NUL byte in the name or the value.
    Nul,
    /// A CR in the name or the value (the line's own CR has already been taken off).
    BareCr,
}

/// Where a field line's name and value are, relative to the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpans {
    /// The name is `line[..name_end]`.
    pub name_end: usize,
    /// The value, without its surrounding whitespace, is `line[value.0..value.1]`.
    pub value: (usize, usize),
}

/// Splits `name: value` (RFC 9112 section 5: `field-name ":" OWS field-value OWS`). `line`
/// is one non-empty line without its line ending.
pub fn split_field_line(line: &[u8]) -> Result<FieldSpans, FieldError> {
    let Some(&first) = line.first() else {
        return Err(FieldError::BadName);
    };
    if is_ows(first) {
        return Err(FieldError::ObsFold);
    }
    let colon = scan_token(line, b':').map_err(|b| match b {
        b' ' | b'\t' => FieldError::WhitespaceBeforeColon,
        _ => control_field_error(b).unwrap_or(FieldError::BadName),
    })?;
    if colon == line.len() || colon == 0 {
        return Err(FieldError::BadName);
    }
    let mut value_start = colon + 1;
    while value_start < line.len() && is_ows(line[value_start]) {
        value_start += 1;
    }
    let mut value_end = line.len();
    while value_end > value_start && is_ows(line[value_end - 1]) {
        value_end -= 1;
    }
    if let Some(b) = find_control(&line[value_start..value_end]) {
        return Err(control_field_error(b).unwrap_or(FieldError::BadValue));
    }
    Ok(FieldSpans { name_end: colon, value: (value_start, value_end) })
}

/// The two control bytes that get an error of their own.
fn control_field_error(b: u8) -> Option<FieldError> {
    match b {
        0 => Some(FieldError::Nul),
        b'\r' => Some(FieldError::BareCr),
        _ => None,
    }
}
// ANCHOR_END: field_line

// ANCHOR: chunk_size
/// Longest chunk-size line (size, extensions): extensions are tolerated, not unlimited.
pub const MAX_CHUNK_LINE: usize = 1024;

/// A chunk-size line, `1a` or `1a;name=value` (RFC 9112 section 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLine<'a> {
    /// The chunk's size; 0 is the last chunk.
    pub size: u64,
    /// The hex digits as sent (leading zeros included).
    pub digits: &'a [u8],
    /// Whatever follows the digits: nothing, whitespace, or `;` extensions. Nobody here
    /// uses them; they are checked, then ignored.
    pub extensions: &'a [u8],
}

/// What is wrong with a chunk-size line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkLineError {
    /// No hex digit, a size that does not fit in 64 bits, or something other than `;` after
    /// the digits and their whitespace.
    Malformed,
    /// A control byte (this one) among the extensions.
    Control(u8),
}

/// Parses one chunk-size line without its line ending.
pub fn parse_chunk_line(line: &[u8]) -> Result<ChunkLine<'_>, ChunkLineError> {
    let count = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if count == 0 {
        return Err(ChunkLineError::Malformed);
    }
    let (digits, extensions) = line.split_at(count);
    let mut size: u64 = 0;
    for &b in digits {
        let digit = u64::from(hex_value(b).unwrap_or(0));
        size = size.checked_mul(16).and_then(|s| s.checked_add(digit)).ok_or(ChunkLineError::Malformed)?;
    }
    if let Some(b) = find_control(extensions) {
        return Err(ChunkLineError::Control(b));
    }
    if !is_chunk_ext(extensions) {
        return Err(ChunkLineError::Malformed);
    }
    Ok(ChunkLine { size, digits, extensions })
}
// ANCHOR_END: chunk_size

// ANCHOR: chunk_ext
/// Whether `ext` (what follows a chunk's size) is a list of chunk extensions, RFC 9112
/// section 7.1.1: `*( BWS ";" BWS name [ BWS "=" BWS value ] )`, a name being a token and a
/// value a token or a quoted string. Nobody uses extensions, but they are part of the framing:
/// a line we accept that another parser on the path reads differently (`5;a="x` with its
/// quote never closed, say) is how two parsers come to disagree about where a body ends.
/// Whitespace after the last extension (or after the size) is tolerated as BWS before an
/// extension that never comes.
pub fn is_chunk_ext(ext: &[u8]) -> bool {
    let mut rest = ext;
    loop {
        rest = skip_ows(rest);
        let [b';', after @ ..] = rest else {
            return rest.is_empty();
        };
        let (name, after) = take_token(skip_ows(after));
        if name.is_empty() {
            return false;
        }
        rest = skip_ows(after);
        if let [b'=', after @ ..] = rest {
            let after = skip_ows(after);
            rest = match after {
                [b'"', quoted @ ..] => match skip_quoted(quoted) {
                    Some(after) => after,
                    None => return false,
                },
                _ => {
                    let (value, after) = take_token(after);
                    if value.is_empty() {
                        return false;
                    }
                    after
                }
            };
        }
    }
}

fn skip_ows(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_ows(b)).count();
    &s[n..]
}

/// The token at the start of `s` (maybe empty) and what follows it.
fn take_token(s: &[u8]) -> (&[u8], &[u8]) {
    s.split_at(s.iter().take_while(|&&b| is_tchar(b)).count())
}

/// What follows a quoted string whose opening quote is already gone, or `None` if it never
/// closes or holds a byte it may not (`qdtext`: tab, space, visible characters but `"` and
/// `\`, obs-text; `\` escapes one tab, space, visible character or obs-text byte).
fn skip_quoted(mut s: &[u8]) -> Option<&[u8]> {
    loop {
        match s {
            [b'"', after @ ..] => return Some(after),
            [b'\\', escaped, after @ ..] if *escaped == b'\t' || *escaped >= 0x20 && *escaped != 0x7f => {
                s = after
            }
            [b, after @ ..] if *b == b'\t' || (*b >= 0x20 && *b != 0x7f && *b != b'\\') => s = after,
            _ => return None,
        }
    }
}
// ANCHOR_END: chunk_ext

// ANCHOR: framing
/// What is wrong with a Content-Length value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentLengthError {
    /// Not a plain decimal number.
    Malformed,
    /// A value that differs from one seen before.
    Conflicting,
}

/// Reads a Content-Length value, `5` or (tolerated by RFC 9110 section 8.6) a list of the
/// same number, `5, 5`, given the value of an earlier Content-Length line if there was one.
pub fn content_length(value: &[u8], mut seen: Option<u64>) -> Result<u64, ContentLengthError> {
    for item in value.split(|&b| b == b',') {
        let n = parse_decimal(trim_ows(item)).ok_or(ContentLengthError::Malformed)?;
        if seen.is_some_and(|previous| previous != n) {
            return Err(ContentLengthError::Conflicting);
        }
        seen = Some(n);
    }
    seen.ok_or(ContentLengthError::Malformed)
}

/// The codings of a Transfer-Encoding value, in order, empty list items skipped.
pub fn transfer_codings(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    comma_list(value).filter(|coding| !coding.is_empty())
}

/// True for the `chunked` transfer coding (names are case-insensitive).
pub fn is_chunked(coding: &[u8]) -> bool {
    coding.eq_ignore_ascii_case(b"chunked")
}

/// The options of a Connection header that decide whether the connection stays open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// `close` was listed.
    pub close: bool,
    /// `keep-alive` was listed (HTTP/1.0's way of asking to stay open).
    pub keep_alive: bool,
}

impl ConnectionOptions {
    /// Adds the options listed in one Connection header value.
    pub fn add(&mut self, value: &[u8]) {
        for token in comma_list(value) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }
}

/// How the body of a message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the sender closes the connection: only a response can be framed this way.
    UntilClose,
}

/// RFC 9112 section 6.3, for a message whose status and method allow a body: where does it
/// end? `transfer_encoding` is `None` without a Transfer-Encoding header, else whether its
/// last coding is `chunked`. Transfer-Encoding wins over Content-Length; a request without
/// either has no body, a response without either runs until the close. A request with both
/// headers, or with a last coding other than chunked, is an error the server refuses before
/// asking (that is policy, see `Parser::on_head_end`).
pub fn body_framing(transfer_encoding: Option<bool>, content_length: Option<u64>, response: bool) -> Framing {
    match (transfer_encoding, content_length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::UntilClose,
        (None, Some(0)) => Framing::Empty,
        (None, Some(n)) => Framing::Length(n),
        (None, None) if response => Framing::UntilClose,
        (None, None) => Framing::Empty,
    }
}
// ANCHOR_END: framing

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_matches_naive_search() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 7 % 13) as u8).collect();
        for needle in 0..14u8 {
            for start in 0..20 {
                let s = &hay[start..];
                assert_eq!(find_byte(s, needle), s.iter().position(|&b| b == needle));
            }
        }
        assert_eq!(find_byte(b"", b'\n'), None);
        assert_eq!(find_byte(b"\x80\x0a", b'\n'), Some(1));
        assert_eq!(find_byte(b"abcdefgh\x01\n", b'\n'), Some(9));
    }

    #[test]
    fn find_control_matches_naive_search() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let len = (rng % 40) as usize;
            let mut value = Vec::new();
            for _ in 0..len {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Mostly printable, sometimes a tab, DEL, obs-text or another control byte.
                let b = match rng % 16 {
                    0 => [0u8, 9, 0x1f, 0x7f, 0x80, 0xff, b'\r', 0x20][(rng >> 8) as usize % 8],
                    _ => 0x21 + (rng >> 8) as u8 % 0x5e,
                };
                value.push(b);
            }
            let naive = value.iter().copied().find(|&b| is_control(b));
            assert_eq!(find_control(&value), naive, "{value:?}");
        }
        assert_eq!(find_control(b"tab\tonly and text"), None);
        assert_eq!(find_control(b"12345678\x7f"), Some(0x7f));
    }
}
