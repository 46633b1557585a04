//! Compressed GraphQL answers: zstd, brotli or gzip, as the client's `Accept-Encoding` prefers
//! (on equal preference zstd, the cheapest to make, then brotli, then gzip), for answers of at
//! least [`MIN_BYTES`]. A page of 300 units (37 KB) goes as about 4 KB: what a member on a slow
//! mobile network waits for.
//!
//! **Not compressed** (see `docs/security.md#compression`): mutations and WebSocket messages —
//! they carry the secrets the service mints (tokens, client secrets, one-time codes) next to
//! text the caller chose, the mix a compression oracle (BREACH) needs — and any query that
//! selects a violence report's fields or a secret (a check-in code; see `engine::Disclosure`).
//! Everything else a query returns is what its caller may read anyway.

use std::io::Write;

/// Answers shorter than this go as they are: compressing them saves less than its headers and
/// the work cost.
pub const MIN_BYTES: usize = 1024;

/// A content coding the service offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Zstd,
    Brotli,
    Gzip,
}

impl Coding {
    /// Ours, in the order preferred when the client likes several equally.
    const OFFERED: [Coding; 3] = [Coding::Zstd, Coding::Brotli, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to answer with, from an `Accept-Encoding` header (RFC 9110 §12.5.3); `None`
/// when the client asked for none of ours (or for none at all).
pub fn negotiate(accept_encoding: Option<&str>) -> Option<Coding> {
    let header = accept_encoding?;
    let mut wildcard = None;
    let mut explicit: [Option<f32>; 3] = [None; 3];
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let token = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim().eq_ignore_ascii_case("q").then(|| value.trim().parse::<f32>().ok())?
            })
            .next()
            .unwrap_or(1.0);
        match token.as_str() {
            "*" => wildcard = Some(q),
            "x-gzip" | "gzip" => explicit[2] = Some(q),
            "br" => explicit[1] = Some(q),
            "zstd" => explicit[0] = Some(q),
            _ => {}
        }
    }
    let mut best: Option<(Coding, f32)> = None;
    for (i, coding) in Coding::OFFERED.into_iter().enumerate() {
        let q = explicit[i].or(wildcard).unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((coding, q));
        }
    }
    best.map(|(coding, _)| coding)
}

/// `body` in `coding`. Levels favour speed: a compressed page costs less CPU than it saves on
/// the wire (see `docs/benchmarks.md`).
pub fn compress(coding: Coding, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() / 6 + 64);
    match coding {
        Coding::Zstd => {
            let mut encoder = zstd::stream::Encoder::new(&mut out, 3)?;
            encoder.write_all(body)?;
            encoder.finish()?;
        }
        Coding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams { quality: 4, lgwin: 20, ..Default::default() };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
        }
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(5));
            encoder.write_all(body)?;
            encoder.finish()?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_clients_preference_wins_and_ties_go_to_the_cheapest() {
        assert_eq!(negotiate(None), None);
        assert_eq!(negotiate(Some("")), None);
        assert_eq!(negotiate(Some("identity")), None);
        assert_eq!(negotiate(Some("deflate")), None);
        assert_eq!(negotiate(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("gzip, deflate, br")), Some(Coding::Brotli));
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd")), Some(Coding::Zstd));
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.9")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("zstd;q=0, *")), Some(Coding::Brotli));
        assert_eq!(negotiate(Some("*;q=0")), None);
        assert_eq!(negotiate(Some("GZIP;Q=1")), Some(Coding::Gzip));
    }

    #[test]
    fn every_coding_reads_back() {
        let body = br#"{"data":{"orgUnits":{"edges":[{"node":{"name":"Phuong 1"}}]}}}"#.repeat(200);
        for coding in Coding::OFFERED {
            let packed = compress(coding, &body).expect("compresses");
            assert!(packed.len() < body.len() / 10, "{coding:?}: {} of {}", packed.len(), body.len());
            let mut unpacked = Vec::new();
            match coding {
                Coding::Zstd => {
                    zstd::stream::Decoder::new(&packed[..]).expect("zstd").read_to_end(&mut unpacked)
                }
                Coding::Brotli => brotli::Decompressor::new(&packed[..], 4096).read_to_end(&mut unpacked),
                Coding::Gzip => flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut unpacked),
            }
            .expect("decompresses");
            assert_eq!(unpacked, body, "{coding:?}");
        }
    }
}
