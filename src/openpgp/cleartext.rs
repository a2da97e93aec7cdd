//! The cleartext signature framework (RFC 9580 §7): `BEGIN PGP SIGNED MESSAGE`, `Hash:`
//! headers, dash-escaped text, one armored signature block.

use super::armor::{block_at, lines};
use super::{Cleartext, Sig, sigs_from_packets};

const BEGIN: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----";
const SIG: &[u8] = b"-----BEGIN PGP SIGNATURE-----";

pub(super) fn is_cleartext(b: &[u8]) -> bool {
    b.split(|&c| c == b'\n').next().map(super::armor::trim_end) == Some(BEGIN)
}

pub(super) fn parse(bytes: &[u8]) -> Result<Cleartext, String> {
    let ls = lines(bytes);
    if ls.first() != Some(&BEGIN) {
        return Err("not a cleartext-signed message".into());
    }
    let mut i = 1;
    let mut hashes: Vec<u8> = Vec::new();
    loop {
        let l = *ls.get(i).ok_or("cleartext message without text")?;
        i += 1;
        if l.is_empty() {
            break;
        }
        let v = l
            .strip_prefix(b"Hash: ")
            .ok_or("unexpected header in a cleartext message")?;
        for name in v.split(|&c| c == b',') {
            hashes.push(match super::armor::trim_end(name.trim_ascii_start()) {
                b"SHA256" => 8,
                b"SHA384" => 9,
                b"SHA512" => 10,
                b"SHA1" => return Err("SHA-1 is refused".into()),
                b"MD5" => return Err("MD5 is refused".into()),
                _ => return Err("unsupported hash in the cleartext Hash header".into()),
            });
        }
    }
    let mut text = Vec::new();
    loop {
        let l = *ls.get(i).ok_or("cleartext message without a signature")?;
        if l == SIG {
            break;
        }
        i += 1;
        let l = match l {
            [b'-', b' ', rest @ ..] => rest,
            [b'-', ..] => return Err("a line of the signed text is not dash-escaped".into()),
            _ => l,
        };
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    let (data, next) = block_at(&ls, i, "SIGNATURE")?;
    if ls[next..].iter().any(|l| !l.is_empty()) {
        return Err("text after the cleartext signature".into());
    }
    let sigs: Vec<Sig> = sigs_from_packets(&data)?;
    if !hashes.is_empty() && sigs.iter().any(|s| !hashes.contains(&s.0.hash_algo)) {
        return Err("a signature's hash is not named in the Hash header".into());
    }
    Ok(Cleartext { text, sigs })
}

/// The form that is hashed: CRLF between lines, no final line ending.
pub(super) fn canonical(text: &[u8]) -> Vec<u8> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut out = Vec::with_capacity(body.len() + body.len() / 32);
    for (k, l) in body.split(|&c| c == b'\n').enumerate() {
        if k > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(l);
    }
    out
}
