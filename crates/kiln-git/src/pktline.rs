//! Reading git's pkt-line framing: a four-digit hex length (including
//! itself) and a payload; `0000` is a flush packet.

/// One packet read from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    Flush,
    /// Delimiter (`0001`) or response-end (`0002`) of protocol v2.
    Special,
    Data(&'a [u8]),
}

/// Reads one packet from the start of `buf`: `Ok(None)` when more bytes are
/// needed, `Err` when the framing is broken. Returns the packet and the
/// number of bytes it used.
pub(crate) fn read_packet(buf: &[u8]) -> Result<Option<(Packet<'_>, usize)>, ()> {
    let Some(head) = buf.get(..4) else { return Ok(None) };
    let text = std::str::from_utf8(head).map_err(|_| ())?;
    let len = usize::from_str_radix(text, 16).map_err(|_| ())?;
    match len {
        0 => Ok(Some((Packet::Flush, 4))),
        1 | 2 => Ok(Some((Packet::Special, 4))),
        3 => Err(()),
        _ => match buf.get(4..len) {
            Some(payload) => Ok(Some((Packet::Data(payload), len))),
            None => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_data_flush_and_partial_packets() {
        assert_eq!(read_packet(b"0009hello0000"), Ok(Some((Packet::Data(b"hello"), 9))));
        assert_eq!(read_packet(b"0000"), Ok(Some((Packet::Flush, 4))));
        assert_eq!(read_packet(b"0009hel"), Ok(None));
        assert_eq!(read_packet(b"00"), Ok(None));
        assert_eq!(read_packet(b"zzzz"), Err(()));
        assert_eq!(read_packet(b"0003"), Err(()));
    }
}
