internal import ParleyWire

/// The checks made on a packet before libsrtp sees it, reading the bytes in place (no allocation).
///
/// libsrtp trusts the lengths it is given and reads the header fields it needs; these checks make sure
/// everything it reads lies inside the buffer, and turn what does not into a `WireError` naming the field.
enum PacketChecks {
    /// Bytes of the RTP header of `packet` (fixed part, CSRCs and extension), which must all be present.
    ///
    /// ```
    /// |V=2|P|X|  CC   |M|     PT      |       sequence number         |  12 bytes, then 4 × CC of CSRCs,
    /// |                           timestamp                           |  then, if X, a 4-byte extension
    /// |           synchronization source (SSRC) identifier            |  header whose length counts words
    /// ```
    static func rtpHeaderLength(_ packet: ArraySlice<UInt8>) throws(WireError) -> Int {
        guard packet.count >= 12 else {
            throw .truncated(field: "RTP header", needed: 12, available: packet.count)
        }
        let first = packet[packet.startIndex]
        guard first >> 6 == 2 else {
            throw .invalidValue(field: "version", reason: "must be 2, got \(first >> 6)")
        }
        var length = 12 + 4 * Int(first & 0x0F)
        guard packet.count >= length else {
            throw .truncated(field: "CSRC", needed: length, available: packet.count)
        }
        if first & 0x10 != 0 {
            guard packet.count >= length + 4 else {
                throw .truncated(field: "header extension", needed: length + 4, available: packet.count)
            }
            let words = Int(packet[packet.startIndex + length + 2]) << 8 | Int(packet[packet.startIndex + length + 3])
            length += 4 + 4 * words
            guard packet.count >= length else {
                throw .lengthMismatch(field: "header extension length", declared: length, actual: packet.count)
            }
        }
        return length
    }

    /// Checks that the SRTP packet `packet` holds a whole RTP header and a `tagLength`-byte tag.
    static func srtpLength(_ packet: ArraySlice<UInt8>, tagLength: Int) throws(WireError) {
        let header = try rtpHeaderLength(packet)
        guard packet.count >= header + tagLength else {
            throw .truncated(field: "SRTP authentication tag", needed: header + tagLength, available: packet.count)
        }
    }

    /// Checks the RTCP header of `packet` (version 2, an RTCP packet type, the sender SSRC present) and
    /// that `trailerLength` more bytes follow those 8 (the SRTCP E‖index word and tag, when unprotecting).
    ///
    /// ```
    /// |V=2|P|   RC    |   PT=192…223  |             length            |  8 bytes in the clear,
    /// |                         SSRC of sender                        |  then the (encrypted) rest
    /// ```
    static func rtcpHeader(_ packet: ArraySlice<UInt8>, trailerLength: Int) throws(WireError) {
        guard packet.count >= 8 else {
            throw .truncated(field: "RTCP header", needed: 8, available: packet.count)
        }
        let first = packet[packet.startIndex]
        guard first >> 6 == 2 else {
            throw .invalidValue(field: "RTCP version", reason: "must be 2, got \(first >> 6)")
        }
        let packetType = packet[packet.startIndex + 1]
        guard (192...223).contains(packetType) else {
            throw .invalidValue(field: "RTCP packet type", reason: "must be in 192…223, got \(packetType)")
        }
        guard packet.count >= 8 + trailerLength else {
            throw .truncated(field: "SRTCP index and authentication tag", needed: 8 + trailerLength, available: packet.count)
        }
    }

    /// The SSRC of an RTP packet (bytes 8…11) or of an RTCP packet's sender (bytes 4…7); the caller has
    /// checked the header is present.
    static func ssrc(of packet: ArraySlice<UInt8>, rtcp: Bool) -> SSRC {
        let offset = packet.startIndex + (rtcp ? 4 : 8)
        guard packet.endIndex >= offset + 4 else { return SSRC(0) }
        var value: UInt32 = 0
        for index in offset..<offset + 4 {
            value = value << 8 | UInt32(packet[index])
        }
        return SSRC(value)
    }
}
