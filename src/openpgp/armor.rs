//! ASCII armor (RFC 9580 §6): `-----BEGIN PGP ...-----`, headers, strict base64, and the
//! optional CRC-24, which is checked when present.

/// The lines of `b`, each without its line ending and trailing spaces or tabs.
pub(super) fn lines(b: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = b.split(|&c| c == b'\n').map(trim_end).collect();
    if b.ends_with(b"\n") {
        v.pop();
    }
    v
}

pub(super) fn trim_end(mut l: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r'] = l {
        l = rest;
    }
    l
}

fn begin(kind: &str) -> String {
    format!("-----BEGIN PGP {kind}-----")
}

/// Whether `b` holds an armored block of `kind` at the start of a line.
pub(super) fn has_block(b: &[u8], kind: &str) -> bool {
    lines(b).iter().any(|l| *l == begin(kind).as_bytes())
}

/// Every `kind` block in `b` (text around them is ignored), decoded.
pub(super) fn blocks(b: &[u8], kind: &str) -> Result<Vec<Vec<u8>>, String> {
    let ls = lines(b);
    let (mut i, mut out) = (0, Vec::new());
    while i < ls.len() {
        if ls[i] == begin(kind).as_bytes() {
            let (data, next) = block_at(&ls, i, kind)?;
            out.push(data);
            i = next;
        } else if ls[i].starts_with(b"-----BEGIN PGP ") {
            return Err(format!("unexpected armor block, expected {}", begin(kind)));
        } else {
            i += 1;
        }
    }
    if out.is_empty() {
        return Err(format!("no {} block", begin(kind)));
    }
    Ok(out)
}

/// Decode the block whose BEGIN line is `ls[i]`; returns the data and the index after END.
pub(super) fn block_at(ls: &[&[u8]], mut i: usize, kind: &str) -> Result<(Vec<u8>, usize), String> {
    i += 1;
    // Headers ("Key: value") up to the blank line.
    while i < ls.len() && !ls[i].is_empty() && ls[i].contains(&b':') {
        i += 1;
    }
    if ls.get(i).is_some_and(|l| l.is_empty()) {
        i += 1;
    }
    let (mut b64, mut crc) = (Vec::new(), None);
    let end = format!("-----END PGP {kind}-----");
    loop {
        let l = *ls.get(i).ok_or("armor without an END line")?;
        i += 1;
        if l == end.as_bytes() {
            break;
        }
        if crc.is_some() {
            return Err("armor: text after the checksum line".into());
        }
        match l {
            [b'=', c @ ..] if c.len() == 4 => crc = Some(decode(c)?),
            _ if l.starts_with(b"-----") => return Err("armor: mismatched END line".into()),
            _ => b64.extend_from_slice(l),
        }
    }
    let data = decode(&b64)?;
    if crc.is_some_and(|c| c[..] != crc24(&data).to_be_bytes()[1..]) {
        return Err("armor checksum (CRC-24) mismatch".into());
    }
    if data.is_empty() {
        return Err("empty armor block".into());
    }
    Ok((data, i))
}

/// Strict base64: padded, canonical, no stray characters (the decoder minisign keys and
/// signatures use; an empty block decodes to nothing, refused by the caller).
pub(super) fn decode(s: &[u8]) -> Result<Vec<u8>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    std::str::from_utf8(s)
        .ok()
        .and_then(crate::minisig::decode_base64)
        .ok_or_else(|| "armor: invalid base64".into())
}

/// CRC-24 of RFC 9580 §6.1.1.
pub(super) fn crc24(d: &[u8]) -> u32 {
    let mut c: u32 = 0xb7_04ce;
    for &b in d {
        c ^= u32::from(b) << 16;
        for _ in 0..8 {
            c <<= 1;
            if c & 0x100_0000 != 0 {
                c ^= 0x186_4cfb;
            }
        }
    }
    c & 0xff_ffff
}
