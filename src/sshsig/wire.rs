//! The SSH wire encoding (RFC 4251 section 5) that key blobs and SSHSIG use: `uint32`,
//! `string` (a `uint32` length then that many bytes) and `mpint`, read strictly from a
//! byte slice. Every length is checked against what is left, so no input can make a read
//! allocate or index past the end.

/// A cursor over an SSH wire-encoded buffer.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err("truncated".to_string());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(super) fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `string`: its length, then its bytes; a length past the end is an error.
    pub(super) fn string(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| "length too large".to_string())?;
        if len > self.buf.len() {
            return Err(format!(
                "a length of {len} bytes runs past the end ({} left)",
                self.buf.len()
            ));
        }
        self.take(len)
    }

    /// A `string` that must be UTF-8 (algorithm names, namespaces).
    pub(super) fn utf8(&mut self) -> Result<&'a str, String> {
        std::str::from_utf8(self.string()?).map_err(|_| "a name is not UTF-8".to_string())
    }

    /// A non-negative `mpint`, as its magnitude (big-endian, no leading zero byte). Strict
    /// as RFC 4251 says: negative values and needless leading zero bytes are errors.
    pub(super) fn mpint(&mut self) -> Result<&'a [u8], String> {
        let b = self.string()?;
        match b {
            [] => Ok(b),
            [first, ..] if first & 0x80 != 0 => Err("negative mpint".to_string()),
            [0, second, ..] if second & 0x80 != 0 => Ok(&b[1..]),
            [0, ..] => Err("mpint with a needless leading zero".to_string()),
            _ => Ok(b),
        }
    }

    /// Nothing may follow.
    pub(super) fn end(&self) -> Result<(), String> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(format!("{} trailing bytes", self.buf.len()))
        }
    }
}

/// Append a `string` to `out`.
pub(super) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // Every string verun writes is a short name or a digest.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_lengths_are_checked() {
        let mut r = Reader::new(&[0, 0, 0, 2, b'h', b'i', 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.string().unwrap(), b"hi");
        assert!(r.string().is_err(), "huge length");
        assert!(Reader::new(&[0, 0, 0]).u32().is_err());
        assert!(Reader::new(&[1]).end().is_err());
    }

    #[test]
    fn mpints_are_strict() {
        let mp = |b: &[u8]| {
            let mut v = Vec::new();
            put_string(&mut v, b);
            Reader::new(&v).mpint().map(<[u8]>::to_vec)
        };
        assert_eq!(mp(&[]).unwrap(), b"");
        assert_eq!(mp(&[0x7f]).unwrap(), [0x7f]);
        assert_eq!(mp(&[0, 0x80]).unwrap(), [0x80]);
        assert!(mp(&[0x80]).is_err(), "negative");
        assert!(mp(&[0, 0x7f]).is_err(), "needless zero");
        assert!(mp(&[0]).is_err(), "zero written with a byte");
    }
}
