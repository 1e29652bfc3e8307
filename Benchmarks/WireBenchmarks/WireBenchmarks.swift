// Wire-format costs: RTP parse + serialize, and (with the payload formats) VP8 packetize and
// depacketize. Each is reported against a baseline measured in the same run: copying the same
// bytes into a new array, the least any serializer must do. Run with `make bench`.
import Foundation
import ParleyPayload
import ParleyRTP
import ParleyWire

/// Thread CPU time, nanoseconds.
func threadCPUNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Median CPU nanoseconds per iteration of `body` over `repetitions` runs of `iterations` each.
func nanosecondsPerIteration(iterations: Int, repetitions: Int = 5, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<repetitions {
        let start = threadCPUNanoseconds()
        for _ in 0..<iterations { try body() }
        samples.append(Double(threadCPUNanoseconds() - start) / Double(iterations))
    }
    return samples.sorted()[repetitions / 2]
}

/// Keeps the optimiser from discarding a result.
@inline(never)
func consume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

let quick = CommandLine.arguments.contains("--quick")
let iterations = quick ? 2_000 : 200_000

func row(_ name: String, _ nanoseconds: Double, baseline: Double, note: String) {
    let padded = name.count >= 44 ? name : name + String(repeating: " ", count: 44 - name.count)
    print(padded + String(format: " %10.1f ns %8.2f×  ", nanoseconds, nanoseconds / baseline) + note)
}

// A 1200-byte RTP packet with two extensions (transport-wide sequence number, frame marking).
var extensions = RTPHeaderExtensions()
RTPExtensionRegistry.parleyDefault.set(TransportWideSequenceNumber(SequenceNumber(4_242)), in: &extensions)
RTPExtensionRegistry.parleyDefault.set(FrameMarking(startOfFrame: true, endOfFrame: false, isIndependent: false), in: &extensions)
let header = RTPHeader(
    marker: false, payloadType: 96, sequenceNumber: SequenceNumber(1), timestamp: RTPTimestamp(90_000),
    ssrc: SSRC(0x1234_5678), extensions: extensions)
let payloadSize = 1_200 - header.serializedSize
let packetBytes = RTPPacket(header: header, payload: [UInt8]((0..<payloadSize).map { UInt8(truncatingIfNeeded: $0) })).serialize()
precondition(packetBytes.count == 1_200)

/// A real copy of `bytes` into new storage (`Array(slice)` of a whole array would share its buffer).
func copied(_ bytes: [UInt8]) -> [UInt8] {
    bytes.withUnsafeBufferPointer { Array($0) }
}

let copyBaseline = nanosecondsPerIteration(iterations: iterations) {
    consume(copied(packetBytes))
}
let parse = try nanosecondsPerIteration(iterations: iterations) {
    consume(try RTPPacket(parsing: packetBytes))
}
let parsed = try RTPPacket(parsing: packetBytes)
let serialize = nanosecondsPerIteration(iterations: iterations) {
    consume(parsed.serialize())
}
let roundTrip = try nanosecondsPerIteration(iterations: iterations) {
    consume(try RTPPacket(parsing: packetBytes).serialize())
}

print("Parley wire benchmarks (thread CPU, median of 5 × \(iterations)); ratio = against copying the same bytes")
row("baseline: copy 1200 bytes into a new array", copyBaseline, baseline: copyBaseline, note: "")
row("RTP parse (1200 B, 2 extensions)", parse, baseline: copyBaseline, note: "payload shares the input")
row("RTP serialize (1200 B, 2 extensions)", serialize, baseline: copyBaseline, note: "")
row("RTP parse + serialize", roundTrip, baseline: copyBaseline, note: "")

// VP8: a 50 kB frame packetized at a 1200-byte payload budget, wrapped in RTP, serialized, then parsed
// and reassembled — what one frame costs the wire layer on each side.
let frame = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
let frameIterations = quick ? 100 : 5_000
let frameCopy = nanosecondsPerIteration(iterations: frameIterations) {
    consume(copied(frame))
}
/// The sending side: packetizer, sequence numbers and timestamps of one stream.
struct FrameSender {
    var packetizer = VP8Packetizer(maximumPayloadSize: 1_200)
    var sequence = SequenceNumber(0)
    var timestamp = RTPTimestamp(0)
    let extensions: RTPHeaderExtensions

    mutating func send(_ frame: [UInt8]) -> [[UInt8]] {
        let header = RTPHeader(
            payloadType: 96, sequenceNumber: sequence, timestamp: timestamp, ssrc: SSRC(1), extensions: extensions)
        let payloads = packetizer.packetize(frame)
        sequence = sequence.advanced(by: payloads.count)
        timestamp = timestamp.advanced(by: 3_000)
        return header.packets(carrying: payloads).map { $0.serialize() }
    }
}
var sender = FrameSender(extensions: extensions)
let packetize = nanosecondsPerIteration(iterations: frameIterations) {
    consume(sender.send(frame))
}
let datagrams = (0..<frameIterations * 5 + 5).map { _ in sender.send(frame) }
var nextDatagrams = datagrams.makeIterator()
var assembler = VP8FrameAssembler()
var completed = 0
let depacketize = try nanosecondsPerIteration(iterations: frameIterations) {
    for datagram in nextDatagrams.next()! {
        if case .completed = assembler.insert(try RTPPacket(parsing: datagram)) { completed += 1 }
    }
}
precondition(completed == frameIterations * 5, "every frame must complete")
row("baseline: copy a 50 kB frame", frameCopy, baseline: frameCopy, note: "")
row("VP8 packetize + RTP serialize, 50 kB frame", packetize, baseline: frameCopy, note: "\(datagrams[0].count) packets of ≤ 1200 B payload")
row("RTP parse + VP8 reassemble, 50 kB frame", depacketize, baseline: frameCopy, note: "in order, none lost")
