import Glibc

/// Number, duration and text formatting shared by the commands. Missing figures print as "-".
enum Format {
    /// `value` with `decimals` digits after the point, or "-".
    static func number(_ value: Double?, decimals: Int = 1) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.\(decimals)f", value)
    }

    /// An integer, or "-".
    static func integer(_ value: Int64?) -> String { value.map(String.init) ?? "-" }

    /// A percentage of `part` in `whole` with one decimal, or "-" when `whole` is zero or unknown.
    static func percent(_ part: Double?, of whole: Double?) -> String {
        guard let part, let whole, whole > 0 else { return "-" }
        return number(100 * part / whole) + "%"
    }

    /// A bitrate in bits per second as kbit/s (or Mbit/s from 10 Mbit/s up).
    static func bitrate(_ bitsPerSecond: Double?) -> String {
        guard let bitsPerSecond else { return "-" }
        if bitsPerSecond >= 10_000_000 { return number(bitsPerSecond / 1_000_000) + " Mbit/s" }
        return number(bitsPerSecond / 1_000) + " kbit/s"
    }

    /// Milliseconds as "1h 02m 03s", "2m 03s" or "3.4 s".
    static func uptime(milliseconds: Int64?) -> String {
        guard let milliseconds else { return "-" }
        let seconds = milliseconds / 1_000
        if seconds < 60 { return number(Double(milliseconds) / 1_000) + " s" }
        let (hours, minutes, rest) = (seconds / 3_600, seconds / 60 % 60, seconds % 60)
        if hours > 0 { return String(format: "%dh %02dm %02ds", hours, minutes, rest) }
        return String(format: "%dm %02ds", minutes, rest)
    }

    /// The first characters of a base64url key, marked as shortened: `AbCdEfGh…`.
    static func keyPrefix(_ key: String?, length: Int = 8) -> String {
        guard let key, !key.isEmpty else { return "?" }
        return key.count > length ? String(key.prefix(length)) + "…" : key
    }

    /// The local wall-clock time as `HH:MM:SS.mmm`.
    static func clockTime() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }

    /// `text` padded with spaces on the left (right-aligned) to `width` characters.
    static func right(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    /// `text` padded with spaces on the right (left-aligned) to `width` characters.
    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

/// A plain text table: columns as wide as their widest cell, separated by two spaces.
struct TextTable {
    /// Column titles.
    var header: [String]
    /// Rows of cells, as many as the header has titles.
    var rows: [[String]] = []
    /// Columns aligned right (numbers); the others are aligned left.
    var rightAligned: Set<Int> = []

    /// The table's lines, header first; trailing spaces trimmed.
    func lines() -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            let cells = header.indices.map { column -> String in
                let cell = row.indices.contains(column) ? row[column] : ""
                return rightAligned.contains(column) ? Format.right(cell, widths[column]) : Format.left(cell, widths[column])
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}

/// How a Call object (services.md §1.1) reads in lists and messages.
struct CallSummary {
    let call: JSONView

    var id: String { call["call_id"].string ?? "?" }
    var state: String { call["state"].string ?? "?" }
    var direction: String { call["direction"].string ?? "?" }
    var peerKey: String? { call["peer"]["key"].string }
    var isEnded: Bool { state == "ended" }
    /// Not ended nor ending: something a hang-up can still end.
    var isLive: Bool { state != "ended" && state != "ending" }

    /// `active`, or `ended: remote_hangup` once ended.
    var stateText: String {
        if isEnded, let reason = call["end_reason"].string { return "ended: \(reason)" }
        return state
    }

    /// What each end sends, `out/in`: `av` both, `a-` video off, `-v` muted, `--` nothing, `?` unknown.
    var mediaText: String {
        func media(_ view: JSONView) -> String {
            guard !view.isNull else { return "?" }
            return (view["audio"].bool == true ? "a" : "-") + (view["video"].bool == true ? "v" : "-")
        }
        return media(call["local_media"]) + "/" + media(call["peer_media"])
    }

    /// `yes`, `no`, or `-` while there is no SAS to verify.
    var verifiedText: String {
        if call["sas"].isNull { return "-" }
        return call["verified"].bool == true ? "yes" : "no"
    }

    /// One line: `call-1  outgoing  active  AbCdEfGh…  127.0.0.1:5000`.
    var line: String {
        [id, direction, stateText, Format.keyPrefix(peerKey), call["peer_address"].string ?? "-"]
            .joined(separator: "  ")
    }

    /// The SAS as `word word word word  🐢 🎸 …`, or `nil` before the handshake completed.
    var sasText: String? { CallSummary.sasText(call["sas"]) }

    /// A SAS object as one line.
    static func sasText(_ sas: JSONView) -> String? {
        let words = sas["words"].strings
        guard !words.isEmpty else { return nil }
        let emoji = sas["emoji"].strings
        return words.joined(separator: " ") + (emoji.isEmpty ? "" : "   " + emoji.joined(separator: " "))
    }

    /// The calls table of `parley calls`.
    static func table(_ calls: [JSONView]) -> [String] {
        var table = TextTable(header: ["CALL", "DIR", "STATE", "PEER", "ADDRESS", "OUT/IN", "VERIFIED"])
        for call in calls.map(CallSummary.init) {
            table.rows.append([
                call.id, call.direction, call.stateText, Format.keyPrefix(call.peerKey),
                call.call["peer_address"].string ?? "-", call.mediaText, call.verifiedText,
            ])
        }
        return table.lines()
    }
}
