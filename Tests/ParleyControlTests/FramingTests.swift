import ParleyControl
import Testing

/// A stream mixing good frames, empty lines, CRLF and a line that is not UTF-8.
let mixedStream: [UInt8] = [
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x2C,  // {"id":1,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0A,  // "cancel":true} LF — frame 1
    0x0A,  // LF — an empty line: ignored
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x32, 0x2C,  // {"id":2,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0D, 0x0A,  // "cancel":true} CR LF — frame 2, CR dropped
    0x0D, 0x0A,  // CR LF — only a CR: empty once the CR is dropped, ignored
    0x22, 0xC3, 0x28, 0x78, 0x22, 0x0A,  // "\xC3(x" LF — C3 opens a 2-byte sequence, 28 cannot continue it: not UTF-8
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x33, 0x2C,  // {"id":3,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0A,  // "cancel":true} LF — frame 3
]

let mixedStreamOutcomes: [ControlFramer.Outcome] = [
    .frame(#"{"id":1,"cancel":true}"#),
    .frame(#"{"id":2,"cancel":true}"#),
    .invalidUTF8,
    .frame(#"{"id":3,"cancel":true}"#),
]

/// Lines around a maximum frame size of 24 bytes.
let limitStream: [UInt8] = [
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x30, 0x30, 0x30, 0x2C,  // {"id":1000,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0A,  // "cancel":true} LF — 25 bytes: .oversized
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x30, 0x30, 0x2C,  // {"id":100,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0A,  // "cancel":true} LF — exactly 24 bytes: a frame
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x30, 0x2C,  // {"id":10,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0D, 0x0A,  // "cancel":true} CR LF — 23 bytes + CR = 24: a frame
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x30, 0x30, 0x2C,  // {"id":100,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0D, 0x0A,  // "cancel":true} CR LF — 24 bytes + CR = 25: .oversized
    0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x2C,  // {"id":1,
    0x22, 0x63, 0x61, 0x6E, 0x63, 0x65, 0x6C, 0x22, 0x3A, 0x74, 0x72, 0x75, 0x65, 0x7D, 0x0A,  // "cancel":true} LF — 22 bytes: a frame
]

let limitStreamOutcomes: [ControlFramer.Outcome] = [
    .oversized(limit: 24),
    .frame(#"{"id":100,"cancel":true}"#),
    .frame(#"{"id":10,"cancel":true}"#),
    .oversized(limit: 24),
    .frame(#"{"id":1,"cancel":true}"#),
]

/// Feeds `stream` in two pieces split at `split`, then ends it.
func outcomes(of stream: [UInt8], splitAt split: Int, maximumFrameSize: Int = ControlFramer.defaultMaximumFrameSize)
    throws -> [ControlFramer.Outcome]
{
    var framer = try ControlFramer(maximumFrameSize: maximumFrameSize)
    return framer.feed(stream[..<split]) + framer.feed(stream[split...]) + framer.finish()
}

@Suite struct FramingTests {
    @Test func mixedStreamYieldsFramesAndOneUTF8ErrorAtEverySplitPoint() throws {
        for split in 0...mixedStream.count {
            #expect(try outcomes(of: mixedStream, splitAt: split) == mixedStreamOutcomes, "split at \(split)")
        }
    }

    @Test func mixedStreamFedOneByteAtATimeYieldsTheSameOutcomes() {
        var framer = ControlFramer()
        var seen: [ControlFramer.Outcome] = []
        for byte in mixedStream { seen += framer.feed([byte]) }
        #expect(seen == mixedStreamOutcomes)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func linesOverTheLimitAreReportedOnceAndTheNextLinesStillFrameAtEverySplitPoint() throws {
        for split in 0...limitStream.count {
            #expect(try outcomes(of: limitStream, splitAt: split, maximumFrameSize: 24) == limitStreamOutcomes, "split at \(split)")
        }
    }

    @Test func anOversizedLineFedByteByByteIsReportedOnceAndHoldsNoMoreThanTheLimit() throws {
        var framer = try ControlFramer(maximumFrameSize: 24)
        var seen: [ControlFramer.Outcome] = []
        var largestBuffer = 0
        for byte in limitStream {
            seen += framer.feed([byte])
            largestBuffer = max(largestBuffer, framer.bufferedByteCount)
        }
        #expect(seen == limitStreamOutcomes)
        #expect(largestBuffer <= 24)
    }

    @Test func aHugeLineWithoutNewlineIsReportedAsSoonAsItPassesTheLimitAndIsNotBuffered() throws {
        var framer = try ControlFramer(maximumFrameSize: 1024)
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)  // "aaaa…"
        var seen: [ControlFramer.Outcome] = []
        for _ in 0..<16 { seen += framer.feed(chunk) }  // 1 MiB, no LF
        #expect(seen == [.oversized(limit: 1024)])
        #expect(framer.bufferedByteCount == 0)
        // Still the same line until its LF: a frame-like tail is discarded with it, the next line frames.
        #expect(framer.feed(Array(#"{"id":1,"cancel":true}"#.utf8) + [0x0A]) == [])
        #expect(framer.feed(Array(#"{"id":2,"cancel":true}"#.utf8) + [0x0A]) == [.frame(#"{"id":2,"cancel":true}"#)])
    }

    @Test func theDefaultLimitIsOneMebibyteAndALineOfExactlyThatSizeIsAccepted() {
        #expect(ControlFramer.defaultMaximumFrameSize == 1_048_576)
        var framer = ControlFramer()
        let line = [UInt8](repeating: 0x20, count: 1_048_576)
        #expect(framer.feed(line + [0x0A]) == [.frame(String(repeating: " ", count: 1_048_576))])
        #expect(framer.feed(line + [0x20, 0x0A]) == [.oversized(limit: 1_048_576)])
    }

    @Test func aNonPositiveMaximumFrameSizeIsRefusedNotTrapped() {
        #expect(throws: ControlError.invalidArgument(field: "maximumFrameSize", reason: "must be positive, found 0")) {
            try ControlFramer(maximumFrameSize: 0)
        }
    }

    @Test func aFinalLineWithoutNewlineIsAFrameWhenTheStreamEnds() {
        var framer = ControlFramer()
        #expect(framer.feed(Array(#"{"id":9,"cancel":true}"#.utf8)) == [])
        #expect(framer.finish() == [.frame(#"{"id":9,"cancel":true}"#)])
        #expect(framer.finish() == [])
    }

    @Test func outcomesMapToErrorFramesStatuses() {
        #expect(ControlFramer.Outcome.frame("{}").error == nil)
        #expect(ControlFramer.Outcome.oversized(limit: 24).error == .oversized(limit: 24))
        #expect(ControlFramer.Outcome.invalidUTF8.error == .invalidUTF8)
        #expect(ControlError.oversized(limit: 24).status == .resourceExhausted)
        #expect(ControlError.invalidUTF8.status == .invalidArgument)
    }

    @Test func serializedFramesEndInOneNewlineAndEscapeNewlinesInsideStrings() {
        let line = ControlFramer.line(["text": "two\nlines\r\n", "n": 1])
        #expect(line == Array(#"{"text":"two\nlines\r\n","n":1}"#.utf8) + [0x0A])
        #expect(line.filter { $0 == 0x0A }.count == 1)
        #expect(!line.contains(0x0D))
        var framer = ControlFramer()
        #expect(framer.feed(line) == [.frame(#"{"text":"two\nlines\r\n","n":1}"#)])
    }
}
