//! From a file's bytes to CSV text: encodings and separators EnergiBridge files arrive in.
//!
//! - UTF-16 with a byte-order mark (what Windows PowerShell's `>` writes) is decoded, and so is
//!   UTF-16LE without one when its header is plain ASCII (every other byte zero), which cannot be
//!   mistaken for anything else; a UTF-8 byte-order mark is skipped.
//! - The separator is the one that makes a `Time` field appear in the header: `,` (the default),
//!   `;` or a tab (EnergiBridge's `-s`). A file that has none of them is not EnergiBridge's.
//! - An empty file gets its own message.

use anyhow::bail;

/// Separators tried, in order.
const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

/// CSV text ready for the reader.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// UTF-8 bytes.
    pub text: Vec<u8>,
    pub separator: u8,
    /// How the file was decoded, when not plain UTF-8: "UTF-16LE (byte-order mark)".
    pub encoding: Option<&'static str>,
}

impl Decoded {
    /// Whether the last row ends with a line end: EnergiBridge ends every row with one, so a
    /// file without it was cut off mid-row.
    pub fn ends_with_newline(&self) -> bool {
        self.text.ends_with(b"\n")
    }
}

/// Decodes a whole file.
pub(crate) fn decode(bytes: Vec<u8>) -> anyhow::Result<Decoded> {
    if bytes.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
        bail!(
            "empty file: EnergiBridge wrote nothing (the command it measured may have failed to \
             start, or the disk was full)"
        );
    }
    let (text, encoding) = match bytes.as_slice() {
        [0xFF, 0xFE, rest @ ..] => (utf16(rest, u16::from_le_bytes), Some("UTF-16LE")),
        [0xFE, 0xFF, rest @ ..] => (utf16(rest, u16::from_be_bytes), Some("UTF-16BE")),
        [0xEF, 0xBB, 0xBF, rest @ ..] => (rest.to_vec(), None),
        _ if looks_like_utf16le(&bytes) => (
            utf16(&bytes, u16::from_le_bytes),
            Some("UTF-16LE (no byte-order mark)"),
        ),
        _ => (bytes, None),
    };
    if text.contains(&0) {
        bail!(
            "the file holds NUL bytes: not a text CSV (UTF-16 without a byte-order mark whose \
             header is not plain ASCII? Re-save it as UTF-8)"
        );
    }
    let separator = separator(&text)?;
    Ok(Decoded {
        text,
        separator,
        encoding,
    })
}

/// UTF-16 code units to UTF-8; a dangling odd byte (a file cut mid-character) is dropped, and
/// so is an unpaired surrogate (replaced by U+FFFD, which no number parses as).
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Vec<u8> {
    let units = bytes.chunks_exact(2).map(|p| unit([p[0], p[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .into_bytes()
}

/// Plain-ASCII UTF-16LE: the first line's bytes alternate printable ASCII and zero.
fn looks_like_utf16le(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64) & !1];
    head.len() >= 8
        && head.chunks_exact(2).all(|p| {
            p[1] == 0 && (p[0].is_ascii_graphic() || p[0] == b' ' || p[0] == b'\r' || p[0] == b'\n')
        })
}

/// The separator that makes the header hold a `Time` field.
fn separator(text: &[u8]) -> anyhow::Result<u8> {
    let header = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let header = String::from_utf8_lossy(header);
    let header = header.trim_end_matches('\r');
    for sep in SEPARATORS {
        if header.split(sep as char).any(|f| f.trim() == "Time") {
            return Ok(sep);
        }
    }
    let shown: String = header.chars().take(60).collect();
    bail!(
        "no `Time` column in the header (with `,`, `;` or tab as separator): not an \
         EnergiBridge CSV; the header starts {shown:?}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        for u in text.encode_utf16() {
            out.extend(u.to_le_bytes());
        }
        out
    }

    #[test]
    fn utf16_is_decoded_with_or_without_a_mark() {
        let csv = "Delta,Time,CPU_ENERGY (J)\r\n0,1000,5\r\n";
        let d = decode(utf16le(csv, true)).expect("decodes");
        assert_eq!(String::from_utf8(d.text).expect("utf-8"), csv);
        assert_eq!(d.encoding, Some("UTF-16LE"));
        let d = decode(utf16le(csv, false)).expect("decodes");
        assert_eq!(d.encoding, Some("UTF-16LE (no byte-order mark)"));
        let mut be = vec![0xFE, 0xFF];
        for u in csv.encode_utf16() {
            be.extend(u.to_be_bytes());
        }
        assert_eq!(decode(be).expect("BE").encoding, Some("UTF-16BE"));
    }

    #[test]
    fn separators_and_damage_get_their_own_answers() {
        assert_eq!(
            decode(b"Delta;Time;CPU_ENERGY (J)\n0;1;2\n".to_vec())
                .expect("semicolons")
                .separator,
            b';'
        );
        let d = decode(b"\xEF\xBB\xBFDelta,Time\n0,1\n".to_vec()).expect("UTF-8 BOM");
        assert!(d.text.starts_with(b"Delta"));
        let err = decode(Vec::new()).expect_err("empty");
        assert!(err.to_string().starts_with("empty file"), "{err}");
        let err = decode(b"  \n".to_vec()).expect_err("blank");
        assert!(err.to_string().starts_with("empty file"), "{err}");
        let err = decode(b"a|b|Time\n1|2|3\n".to_vec()).expect_err("pipes");
        assert!(err.to_string().contains("no `Time` column"), "{err}");
        assert!(!decode(b"Delta,Time\n0,1".to_vec())
            .expect("cut")
            .ends_with_newline());
    }
}
