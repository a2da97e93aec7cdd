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

fn val(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Strict base64: padded, canonical, no stray characters.
pub(super) fn decode(s: &[u8]) -> Result<Vec<u8>, String> {
    const BAD: &str = "armor: invalid base64";
    if !s.len().is_multiple_of(4) {
        return Err(BAD.into());
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let n = s.len() / 4;
    for (k, q) in s.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && k + 1 != n) {
            return Err(BAD.into());
        }
        let mut v = 0u32;
        for &c in &q[..4 - pad] {
            v = (v << 6) | val(c).ok_or(BAD)?;
        }
        v <<= 6 * pad as u32;
        let bytes = v.to_be_bytes();
        if bytes[4 - pad..].iter().any(|&b| b != 0) {
            return Err(BAD.into()); // non-canonical trailing bits
        }
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Ok(out)
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
