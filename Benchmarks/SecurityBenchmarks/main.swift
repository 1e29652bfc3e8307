// Media-protection costs: SRTP (Parley's `SRTPContext` over libsrtp2) and SFrame (ParleyCrypto over
// swift-crypto), each beside bare libsrtp2 called directly, on a 1200-byte RTP packet. Every case is a
// full round trip (protect, then unprotect on a receiving context), so the receive-side checks run
// too. The cases are measured round-robin, one repetition of each in turn, so CPU drift on a shared
// machine falls on all of them alike; the median of the repetitions is reported. Run with `make bench`.
import CParleyShims
import CSRTP
import Foundation
import ParleyBenchmarkSupport
import ParleyCrypto
import ParleyRTP
import ParleySRTP
import ParleyWire

let quick = CommandLine.arguments.contains("--quick")
let iterations = quick ? 2_000 : 50_000
let repetitions = 5

/// One measured case: a round trip of one packet (or frame), with the state it carries between calls.
struct Case {
    let name: String
    let note: String
    let body: () throws -> Void
    var samples: [Double] = []

    init(_ name: String, note: String = "", _ body: @escaping () throws -> Void) {
        self.name = name
        self.note = note
        self.body = body
    }

    var median: Double { samples.sorted()[samples.count / 2] }
}

/// Runs every case `repetitions` times round-robin (after one warm-up pass) and records CPU ns/iteration.
func measure(_ cases: inout [Case]) throws {
    for index in cases.indices {
        for _ in 0..<min(iterations, 1_000) { try cases[index].body() }
    }
    for _ in 0..<repetitions {
        for index in cases.indices {
            let body = cases[index].body
            let start = threadCPUNanoseconds()
            for _ in 0..<iterations { try body() }
            cases[index].samples.append(Double(threadCPUNanoseconds() - start) / Double(iterations))
        }
    }
}

// MARK: - The packet

/// A 1200-byte RTP packet: the 12-byte fixed header and an 1188-byte payload (no extensions).
let ssrc = SSRC(0x1234_5678)
let header = RTPHeader(payloadType: 96, sequenceNumber: SequenceNumber(0), timestamp: RTPTimestamp(90_000), ssrc: ssrc)
let payload = [UInt8]((0..<(1_200 - RTPHeader.fixedSize)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
let plainPacket = RTPPacket(header: header, payload: payload).serialize()
precondition(plainPacket.count == 1_200 && header.serializedSize == RTPHeader.fixedSize)
/// A 1200-byte payload for the SFrame-alone cases (the issue's "1200-byte payload").
let frame1200 = [UInt8]((0..<1_200).map { UInt8(truncatingIfNeeded: $0 &* 13) })

/// Writes `sequence` into the RTP header at the start of `bytes`, and advances it.
@inline(__always)
func stamp(_ bytes: UnsafeMutablePointer<UInt8>, _ sequence: inout UInt16) {
    bytes[2] = UInt8(truncatingIfNeeded: sequence >> 8)
    bytes[3] = UInt8(truncatingIfNeeded: sequence)
    sequence &+= 1
}

@inline(__always)
func stamp(_ bytes: inout [UInt8], _ sequence: inout UInt16) {
    bytes[2] = UInt8(truncatingIfNeeded: sequence >> 8)
    bytes[3] = UInt8(truncatingIfNeeded: sequence)
    sequence &+= 1
}

/// Room libsrtp may write after a packet (SRTP_MAX_TRAILER_LEN, a macro Swift does not import).
let trailerRoom = Int(SRTP_MAX_TAG_LEN) + Int(SRTP_MAX_MKI_LEN)

// MARK: - Bare libsrtp2

let masterKey = [UInt8](0x10..<0x20)
let salt12 = [UInt8](0x40..<0x4C)
let salt14 = [UInt8](0x40..<0x4E)

func salt(for suite: SRTPSuite) -> [UInt8] { suite.masterSaltLength == 12 ? salt12 : salt14 }

// libsrtp is initialised once per process: srtp_init() a second time fails (bad_param, from loading its
// debug module twice), and SRTPContext refuses to work if its own first srtp_init() failed. So the
// first SRTPContext made runs the one srtp_init(), and the bare sessions rely on it.
_ = try SRTPContext(direction: .outbound, masterKey: masterKey, masterSalt: salt12)

/// A libsrtp session made directly through the C API, the way a C program would.
func bareSession(_ suite: SRTPSuite, inbound: Bool) -> OpaquePointer {
    var keyAndSalt = masterKey + salt(for: suite)
    keyAndSalt += [UInt8](repeating: 0, count: Int(SRTP_MAX_KEY_LEN) - keyAndSalt.count)
    var policy = srtp_policy_t()
    switch suite {
    case .aeadAES128GCM:
        parley_srtp_policy_aead_aes_128_gcm(&policy.rtp)
        parley_srtp_policy_aead_aes_128_gcm(&policy.rtcp)
    case .aesCM128HMACSHA1_80:
        parley_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtp)
        parley_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtcp)
    default:
        preconditionFailure("not benchmarked: \(suite)")
    }
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound
    policy.window_size = UInt(SRTPContext.defaultReplayWindow)
    policy.allow_repeat_tx = 0
    var session: OpaquePointer?
    let status = keyAndSalt.withUnsafeMutableBufferPointer { key in
        policy.key = key.baseAddress
        return srtp_create(&session, &policy)
    }
    precondition(status == srtp_err_status_ok, "srtp_create failed: \(status)")
    return session!
}

/// Bare libsrtp: srtp_protect then srtp_unprotect on one buffer with trailer room.
func bareLibsrtp(_ suite: SRTPSuite) -> Case {
    let sender = bareSession(suite, inbound: false)
    let receiver = bareSession(suite, inbound: true)
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: plainPacket.count + trailerRoom)
    plainPacket.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: $0.count) }
    var sequence: UInt16 = 0
    return Case("bare libsrtp2 \(suite)", note: "srtp_protect + srtp_unprotect, one buffer") {
        stamp(buffer, &sequence)
        var length = Int32(plainPacket.count)
        let protected = srtp_protect(sender, buffer, &length)
        let unprotected = srtp_unprotect(receiver, buffer, &length)
        precondition(protected == srtp_err_status_ok && unprotected == srtp_err_status_ok && length == 1_200)
    }
}

// MARK: - Parley SRTP

func contexts(_ suite: SRTPSuite) throws -> (SRTPContext, SRTPContext) {
    (
        try SRTPContext(direction: .outbound, suite: suite, masterKey: masterKey, masterSalt: salt(for: suite)),
        try SRTPContext(direction: .inbound, suite: suite, masterKey: masterKey, masterSalt: salt(for: suite))
    )
}

/// `protect(rtp:)` → new array, `unprotect(srtp:)` → new array.
func parleySRTPCopying(_ suite: SRTPSuite) throws -> Case {
    let (sender, receiver) = try contexts(suite)
    var packet = plainPacket
    var sequence: UInt16 = 0
    return Case("SRTPContext \(suite), copying", note: "protect(rtp:) + unprotect(srtp:): 2 arrays") {
        stamp(&packet, &sequence)
        let plain = try receiver.unprotect(srtp: try sender.protect(rtp: packet))
        precondition(plain.count == 1_200)
    }
}

/// `protect(rtpInPlace:)` then `unprotect(srtpInPlace:)` on one reused array.
func parleySRTPInPlace(_ suite: SRTPSuite) throws -> Case {
    let (sender, receiver) = try contexts(suite)
    var packet = plainPacket
    packet.reserveCapacity(plainPacket.count + trailerRoom)
    var sequence: UInt16 = 0
    return Case("SRTPContext \(suite), in place", note: "protect(rtpInPlace:) + unprotect(srtpInPlace:)") {
        stamp(&packet, &sequence)
        try sender.protect(rtpInPlace: &packet)
        try receiver.unprotect(srtpInPlace: &packet)
        precondition(packet.count == 1_200)
    }
}

// MARK: - Parley SFrame

let sframeBaseKey = [UInt8](0x60..<0x70)

func sframePair(_ suite: SFrameCipherSuite) throws -> (SFrameContext.Sender, SFrameContext.Receiver) {
    let receiver = SFrameContext.Receiver(suite: suite)
    try receiver.addKey(keyID: 3, baseKey: sframeBaseKey)
    return (try SFrameContext.Sender(suite: suite, keyID: 3, baseKey: sframeBaseKey), receiver)
}

/// `protect(_:metadata:)` → new array, `unprotect(_:metadata:)` → new array.
func sframeCopying(_ suite: SFrameCipherSuite) throws -> Case {
    let (sender, receiver) = try sframePair(suite)
    return Case("SFrame \(suite), 1200 B", note: "protect + unprotect") {
        let plain = try receiver.unprotect(try sender.protect(frame1200))
        precondition(plain.count == 1_200)
    }
}

/// `protect(_:metadata:appendingTo:)` into a reused array, then `unprotect`.
func sframeReusing(_ suite: SFrameCipherSuite) throws -> Case {
    let (sender, receiver) = try sframePair(suite)
    var output: [UInt8] = []
    output.reserveCapacity(frame1200.count + 64)
    return Case("SFrame \(suite), 1200 B, reused output", note: "protect(appendingTo:) + unprotect") {
        output.removeAll(keepingCapacity: true)
        try sender.protect(frame1200[...], metadata: [], appendingTo: &output)
        let plain = try receiver.unprotect(output[...])
        precondition(plain.count == 1_200)
    }
}

// MARK: - SFrame + SRTP, as the engine does per packet

/// The straightforward path: SFrame the payload, SRTP-protect the `RTPPacket` carrying it, and on
/// receive SRTP-unprotect, parse the RTP packet and SFrame-unprotect its payload.
func combinedCopying() throws -> Case {
    let (srtpSender, srtpReceiver) = try contexts(.aeadAES128GCM)
    let (sframeSender, sframeReceiver) = try sframePair(.default)
    var rtpHeader = header
    return Case("SFrame GCM + SRTP GCM, copying", note: "protect(RTPPacket), RTP parse on receive") {
        let sframe = try sframeSender.protect(payload)
        let srtp = try srtpSender.protect(RTPPacket(header: rtpHeader, payload: sframe))
        rtpHeader.sequenceNumber = rtpHeader.sequenceNumber.advanced(by: 1)
        let received = try RTPPacket(parsing: try srtpReceiver.unprotect(srtp: srtp))
        let plain = try sframeReceiver.unprotect(received.payload)
        precondition(plain.count == payload.count)
    }
}

/// The same with the cheapest public calls: the RTP header written once into a reused array, SFrame
/// appended after it, SRTP in place both ways, SFrame unprotect of the payload slice.
func combinedInPlace() throws -> Case {
    let (srtpSender, srtpReceiver) = try contexts(.aeadAES128GCM)
    let (sframeSender, sframeReceiver) = try sframePair(.default)
    let headerBytes = Array(plainPacket[..<RTPHeader.fixedSize])
    var packet: [UInt8] = []
    packet.reserveCapacity(plainPacket.count + 64 + trailerRoom)
    var sequence: UInt16 = 0
    return Case("SFrame GCM + SRTP GCM, in place", note: "protect(appendingTo:), SRTP in place") {
        packet.removeAll(keepingCapacity: true)
        packet.append(contentsOf: headerBytes)
        stamp(&packet, &sequence)
        try sframeSender.protect(payload[...], metadata: [], appendingTo: &packet)
        try srtpSender.protect(rtpInPlace: &packet)
        try srtpReceiver.unprotect(srtpInPlace: &packet)
        let plain = try sframeReceiver.unprotect(packet[RTPHeader.fixedSize...])
        precondition(plain.count == payload.count)
    }
}

// MARK: - Run

var cases: [Case] = [
    bareLibsrtp(.aeadAES128GCM),
    try parleySRTPCopying(.aeadAES128GCM),
    try parleySRTPInPlace(.aeadAES128GCM),
    bareLibsrtp(.aesCM128HMACSHA1_80),
    try parleySRTPCopying(.aesCM128HMACSHA1_80),
    try parleySRTPInPlace(.aesCM128HMACSHA1_80),
    try sframeCopying(.aes128GCMSHA256Tag128),
    try sframeReusing(.aes128GCMSHA256Tag128),
    try sframeCopying(.aes128CTRHMACSHA256Tag80),
    try combinedCopying(),
    try combinedInPlace(),
]
try measure(&cases)

let medians = Dictionary(uniqueKeysWithValues: cases.map { ($0.name, $0.median) })
let bareGCM = medians["bare libsrtp2 \(SRTPSuite.aeadAES128GCM)"]!
let bareCM = medians["bare libsrtp2 \(SRTPSuite.aesCM128HMACSHA1_80)"]!

func row(_ name: String, _ nanoseconds: Double, baseline: Double, note: String) {
    let padded = name.count >= 52 ? name : name + String(repeating: " ", count: 52 - name.count)
    print(padded + String(format: " %7.2f µs %7.2f×  ", nanoseconds / 1_000, nanoseconds / baseline) + note)
}

print("Parley security benchmarks: protect + unprotect round trips (thread CPU, median of \(repetitions) × \(iterations), round-robin)")
print("1200-byte RTP packet (12-byte header + 1188-byte payload); ratio = against bare libsrtp2 of the same SRTP suite (GCM for SFrame rows)")
for item in cases {
    let baseline = item.name.contains(SRTPSuite.aesCM128HMACSHA1_80.rawValue) ? bareCM : bareGCM
    row(item.name, item.median, baseline: baseline, note: item.note)
}

let combined = min(medians["SFrame GCM + SRTP GCM, copying"]!, medians["SFrame GCM + SRTP GCM, in place"]!)
let goalMicroseconds = 2.0
let goalRatio = 1.6
let meetsTime = combined / 1_000 <= goalMicroseconds
let meetsRatio = combined / bareGCM <= goalRatio
print()
print(String(
    format: "Goal (issue 4): SRTP+SFrame ≤ %.2f µs and ≤ %.2f× libsrtp alone. Measured (fastest path): %.2f µs, %.2f×.",
    goalMicroseconds, goalRatio, combined / 1_000, combined / bareGCM))
print("  time: \(meetsTime ? "met" : "NOT met"); ratio: \(meetsRatio ? "met" : "NOT met").")
