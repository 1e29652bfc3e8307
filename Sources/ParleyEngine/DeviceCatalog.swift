/// A source or sink a call can use.
public struct Device: Sendable, Equatable {
    /// Audio or video.
    public enum Kind: String, Sendable {
        case audio, video
    }

    /// The id `Devices/Select` takes.
    public var id: String
    /// Audio or video.
    public var kind: Kind
    /// A name for people.
    public var name: String
    /// Whether the engine makes (or consumes) the media itself rather than a device.
    public var isSynthetic: Bool
}

/// The devices an engine offers. Until real PulseAudio and V4L2 devices are wired in (issue 7), the
/// synthetic sources and the analysis sinks — always present — are the whole list.
public enum DeviceCatalog {
    /// The synthetic microphone's id.
    public static let syntheticMicrophone = "synthetic-microphone"
    /// The synthetic camera's id.
    public static let syntheticCamera = "synthetic-camera"
    /// The analysis audio sink's id.
    public static let analysisAudio = "analysis-audio"
    /// The analysis video sink's id.
    public static let analysisVideo = "analysis-video"

    /// Every source.
    public static let sources = [
        Device(
            id: syntheticCamera, kind: .video,
            name: "Synthetic camera (moving test pattern, stamped with frame number and capture instant)", isSynthetic: true),
        Device(
            id: syntheticMicrophone, kind: .audio,
            name: "Synthetic microphone (voice-like signal, marker chirp every 500 ms)", isSynthetic: true),
    ]

    /// Every sink.
    public static let sinks = [
        Device(id: analysisAudio, kind: .audio, name: "Analysis (plays out, counts markers, discards)", isSynthetic: true),
        Device(id: analysisVideo, kind: .video, name: "Analysis (decodes, reads stamps, discards)", isSynthetic: true),
    ]
}
