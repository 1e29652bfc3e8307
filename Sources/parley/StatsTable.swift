/// The statistics table `parley stats` and `parley demo` draw: for one call, a `send` row and a
/// `recv` row read from a Stats object (services.md §1.2). Fits 80 columns.
///
/// Columns: bitrate (kbit/s); round-trip time (send row); packets lost and loss (the recv row counts
/// `packetsLost` against packets received; the send row shows the peer's `fractionLost`);
/// jitter-buffer delay, audio/video, in ms (`jitterBufferDelay` / `jitterBufferEmittedCount`); frames
/// per second; frames encoded (send) or decoded (recv); video stamps read back; the last stamp's
/// capture-to-decode latency; audio concealed (`concealedSamples` / `totalSamplesReceived`).
enum StatsTable {
    private static let widths = [6, 8, 7, 7, 7, 11, 6, 7, 7, 7, 6]

    /// The column titles, aligned with `rows`.
    static let header = line(["", "kbit/s", "RTT ms", "lost", "loss", "jb ms a/v", "fps", "frames", "stamps", "lat ms", "conc"])

    /// The `send` and `recv` rows of one Stats object, each indented by `indent` spaces.
    static func rows(_ stats: JSONView, indent: Int = 2) -> [String] {
        let label = String(repeating: " ", count: indent)
        return [line([label + "send"] + sendCells(stats)), line([label + "recv"] + receiveCells(stats))]
    }

    /// `title`, then the rows of `stats` (or a placeholder while none has arrived).
    static func block(title: String, stats: JSONView?) -> [String] {
        guard let stats else { return [title, "  (waiting for statistics)"] }
        return [title] + rows(stats)
    }

    /// The stream entry of `kind` (`audio` or `video`) in the array `list` (`inbound` or `outbound`).
    static func stream(_ stats: JSONView, _ list: String, _ kind: String) -> JSONView {
        stats[list].array.first { $0["kind"].string == kind } ?? JSONView(nil)
    }

    /// A jitter buffer's mean delay per emitted sample or frame, in ms.
    static func jitterBufferMilliseconds(_ inbound: JSONView) -> Double? {
        guard let delay = inbound["jitterBufferDelay"].double, let emitted = inbound["jitterBufferEmittedCount"].double,
            emitted > 0
        else { return nil }
        return delay / emitted * 1_000
    }

    /// The audio concealed, in percent of the samples received.
    static func concealedPercent(_ stats: JSONView) -> String {
        let audio = stream(stats, "inbound", "audio")
        return Format.percent(audio["concealedSamples"].double, of: audio["totalSamplesReceived"].double)
    }

    private static func sendCells(_ stats: JSONView) -> [String] {
        let transport = stats["transport"]
        let video = stream(stats, "outbound", "video")
        let fractionLost = stats["outbound"].array.compactMap { $0["fractionLost"].double }.max()
        return [
            Format.number(transport["sendBitrate"].double.map { $0 / 1_000 }),
            Format.number(transport["roundTripTime"].double.map { $0 * 1_000 }, decimals: 2),
            "-",
            fractionLost.map { Format.number($0 * 100) + "%" } ?? "-",
            "-",
            Format.number(video["framesPerSecond"].double),
            Format.integer(video["framesEncoded"].int ?? video["framesSent"].int),
            "-", "-", "-",
        ]
    }

    private static func receiveCells(_ stats: JSONView) -> [String] {
        let transport = stats["transport"]
        let inbound = stats["inbound"].array
        let audio = stream(stats, "inbound", "audio")
        let video = stream(stats, "inbound", "video")
        let lost = inbound.isEmpty ? nil : inbound.reduce(Int64(0)) { $0 + ($1["packetsLost"].int ?? 0) }
        let received = inbound.reduce(Int64(0)) { $0 + ($1["packetsReceived"].int ?? 0) }
        let jitterBuffer = [jitterBufferMilliseconds(audio), jitterBufferMilliseconds(video)]
        return [
            Format.number(transport["receiveBitrate"].double.map { $0 / 1_000 }),
            "-",
            Format.integer(lost),
            Format.percent(lost.map(Double.init), of: lost.map { Double($0 + received) }),
            jitterBuffer.allSatisfy { $0 == nil } ? "-" : jitterBuffer.map { Format.number($0, decimals: 0) }.joined(separator: "/"),
            Format.number(video["framesPerSecond"].double),
            Format.integer(video["framesDecoded"].int),
            Format.integer(stats["media"]["video_stamps_read"].int),
            Format.number(stats["media"]["video_latency_ms"]["last"].double),
            concealedPercent(stats),
        ]
    }

    private static func line(_ cells: [String]) -> String {
        var text = Format.left(cells[0], widths[0])
        for (cell, width) in zip(cells.dropFirst(), widths.dropFirst()) { text += Format.right(cell, width) }
        return text
    }
}
