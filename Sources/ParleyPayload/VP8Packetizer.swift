public import ParleyRTP
import ParleyWire

/// Splits encoded VP8 frames into RTP payloads that fit a size budget (RFC 7741 §4.4).
///
/// The frame bytes are treated as opaque — they may be an SFrame ciphertext — so every packet has
/// PID = 0 and only the first has S = 1; key-frame-ness travels elsewhere (a header extension). The
/// payloads of one frame go in packets with consecutive sequence numbers and the frame's timestamp,
/// the marker bit on the last (`RTPHeader.packets(carrying:)` does exactly that).
public struct VP8Packetizer: Sendable {
    /// The largest RTP payload to produce, descriptor included: the MTU minus IP, UDP, RTP (with
    /// extensions) and SRTP overhead. At least 7 (the largest descriptor plus one byte).
    public var maximumPayloadSize: Int {
        didSet { precondition(maximumPayloadSize > VP8PayloadDescriptor.maximumSize, "payload budget too small") }
    }
    /// The 15-bit PictureID the next frame carries, advancing by one (mod 2^15) per frame; `nil` to
    /// number no pictures here.
    public var nextPictureID: UInt16?

    /// A packetizer producing payloads of at most `maximumPayloadSize` bytes, numbering pictures from
    /// `firstPictureID` (`nil`: none).
    public init(maximumPayloadSize: Int, firstPictureID: UInt16? = 0) {
        precondition(maximumPayloadSize > VP8PayloadDescriptor.maximumSize, "payload budget too small")
        self.maximumPayloadSize = maximumPayloadSize
        nextPictureID = firstPictureID.map { $0 & 0x7FFF }
    }

    /// The RTP payloads of one frame, in sending order: as few as fit the budget, their sizes differing
    /// by at most one byte. An empty frame yields none (and uses no PictureID).
    ///
    /// - Parameter descriptor: what every packet of the frame carries — N, TL0PICIDX, TID/Y, KEYIDX, and
    ///   the PictureID when `nextPictureID` is `nil`. S and PID are set here.
    public mutating func packetize(
        _ frame: ArraySlice<UInt8>, descriptor: VP8PayloadDescriptor = VP8PayloadDescriptor()
    ) -> [[UInt8]] {
        guard !frame.isEmpty else { return [] }
        var descriptor = descriptor
        descriptor.partitionIndex = 0
        if let id = nextPictureID {
            descriptor.pictureID = .fifteenBit(id)
            nextPictureID = (id &+ 1) & 0x7FFF
        }
        let capacity = maximumPayloadSize - descriptor.serializedSize
        let count = (frame.count + capacity - 1) / capacity
        let (base, extra) = frame.count.quotientAndRemainder(dividingBy: count)
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(count)
        var start = frame.startIndex
        for index in 0..<count {
            let end = start + base + (index < extra ? 1 : 0)
            descriptor.isStartOfPartition = index == 0
            payloads.append(VP8RTPPayload(descriptor: descriptor, data: frame[start..<end]).serialize())
            start = end
        }
        return payloads
    }

    /// The RTP payloads of one frame; see `packetize(_:descriptor:)`.
    public mutating func packetize(
        _ frame: [UInt8], descriptor: VP8PayloadDescriptor = VP8PayloadDescriptor()
    ) -> [[UInt8]] {
        packetize(frame[...], descriptor: descriptor)
    }
}

extension RTPHeader {
    /// Packets carrying one video frame's `payloads`: sequence numbers counting up from this header's,
    /// this header's timestamp and other fields, and the marker bit on the last packet only (RFC 7741
    /// §4.1; audio uses the marker differently).
    public func packets(carrying payloads: [[UInt8]]) -> [RTPPacket] {
        payloads.enumerated().map { index, payload in
            var header = self
            header.sequenceNumber = sequenceNumber.advanced(by: index)
            header.marker = index == payloads.count - 1
            return RTPPacket(header: header, payload: payload)
        }
    }
}
