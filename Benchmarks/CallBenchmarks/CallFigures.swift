import ParleyControl

/// The counters of one end's `Calls/Stats` (services.md §1.2) that the benchmark uses; each is
/// cumulative since the call started, so a window is the difference of two snapshots.
struct EndCounters {
    var videoFramesEncoded = 0.0
    var keyFramesEncoded = 0.0
    var audioFramesEncoded = 0.0
    var videoBytesSent = 0.0
    /// Pictures the engine's decode thread got out of libvpx (`media.video_frames_decoded`).
    var videoFramesDecoded = 0.0
    var videoFramesReceived = 0.0
    var videoPacketsReceived = 0.0
    var videoPacketsLost = 0.0
    var audioPacketsReceived = 0.0
    var audioPacketsLost = 0.0
    var concealedSamples = 0.0
    var datagramsSent = 0.0
    var datagramsReceived = 0.0
    var nackCount = 0.0
    var pliCount = 0.0
    var stampsRead = 0.0
    var stampFailures = 0.0
    var latencyMeanMilliseconds = 0.0
    var latencyMaximumMilliseconds = 0.0
    var framesDroppedByQueue = 0.0
    var framesSkipped = 0.0
    var markersHeard = 0.0
    /// Last round-trip time, seconds (not a counter).
    var roundTripTime: Double?

    init() {}

    init(stats: JSONValue) {
        func outbound(_ kind: String) -> JSONValue? { stats["outbound"]?.elements.first { $0["kind"]?.text == kind } }
        func inbound(_ kind: String) -> JSONValue? { stats["inbound"]?.elements.first { $0["kind"]?.text == kind } }
        let video = outbound("video")
        let audio = outbound("audio")
        let videoIn = inbound("video")
        let audioIn = inbound("audio")
        videoFramesEncoded = video?["framesEncoded"]?.double ?? 0
        keyFramesEncoded = video?["keyFramesEncoded"]?.double ?? 0
        videoBytesSent = video?["bytesSent"]?.double ?? 0
        audioFramesEncoded = audio?["framesEncoded"]?.double ?? 0
        videoFramesDecoded = stats["media.video_frames_decoded"]?.double ?? videoIn?["framesDecoded"]?.double ?? 0
        videoFramesReceived = videoIn?["framesReceived"]?.double ?? 0
        videoPacketsReceived = videoIn?["packetsReceived"]?.double ?? 0
        videoPacketsLost = videoIn?["packetsLost"]?.double ?? 0
        nackCount = videoIn?["nackCount"]?.double ?? 0
        pliCount = videoIn?["pliCount"]?.double ?? 0
        audioPacketsReceived = audioIn?["packetsReceived"]?.double ?? 0
        audioPacketsLost = audioIn?["packetsLost"]?.double ?? 0
        concealedSamples = audioIn?["concealedSamples"]?.double ?? 0
        datagramsSent = stats["transport.packetsSent"]?.double ?? 0
        datagramsReceived = stats["transport.packetsReceived"]?.double ?? 0
        roundTripTime = stats["transport.roundTripTime"]?.double
        stampsRead = stats["media.video_stamps_read"]?.double ?? 0
        stampFailures = stats["media.video_stamp_failures"]?.double ?? 0
        latencyMeanMilliseconds = stats["media.video_latency_ms.mean"]?.double ?? 0
        latencyMaximumMilliseconds = stats["media.video_latency_ms.max"]?.double ?? 0
        framesDroppedByQueue = stats["media.video_frames_dropped_by_queue"]?.double ?? 0
        framesSkipped = stats["media.video_frames_skipped"]?.double ?? 0
        markersHeard = stats["media.audio_markers_heard"]?.double ?? 0
    }

    /// What happened between `start` and `self`. The latency mean becomes the window's own mean (the
    /// engine reports the mean since the call started); the maximum and the RTT stay as at the end.
    func since(_ start: EndCounters) -> EndCounters {
        var window = self
        window.videoFramesEncoded -= start.videoFramesEncoded
        window.keyFramesEncoded -= start.keyFramesEncoded
        window.audioFramesEncoded -= start.audioFramesEncoded
        window.videoBytesSent -= start.videoBytesSent
        window.videoFramesDecoded -= start.videoFramesDecoded
        window.videoFramesReceived -= start.videoFramesReceived
        window.videoPacketsReceived -= start.videoPacketsReceived
        window.videoPacketsLost -= start.videoPacketsLost
        window.audioPacketsReceived -= start.audioPacketsReceived
        window.audioPacketsLost -= start.audioPacketsLost
        window.concealedSamples -= start.concealedSamples
        window.datagramsSent -= start.datagramsSent
        window.datagramsReceived -= start.datagramsReceived
        window.nackCount -= start.nackCount
        window.pliCount -= start.pliCount
        window.stampsRead -= start.stampsRead
        window.stampFailures -= start.stampFailures
        window.framesDroppedByQueue -= start.framesDroppedByQueue
        window.framesSkipped -= start.framesSkipped
        window.markersHeard -= start.markersHeard
        if window.stampsRead > 0 {
            window.latencyMeanMilliseconds =
                (latencyMeanMilliseconds * stampsRead - start.latencyMeanMilliseconds * start.stampsRead) / window.stampsRead
        }
        return window
    }
}
