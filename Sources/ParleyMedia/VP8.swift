internal import CParleyShims
internal import CVPX
internal import Foundation
public import ParleyWire

/// Settings of a `VP8Encoder`; bitrate, frame rate and resolution can change while encoding.
public struct VP8EncoderConfiguration: Equatable, Sendable {
    /// Picture width in pixels (1…16383, libvpx's limit).
    public var width: Int
    /// Picture height in pixels (1…16383).
    public var height: Int
    /// Nominal frames per second (1…120); sets the frame duration handed to rate control.
    public var frameRate: Double
    /// Target bitrate in bits per second (constant bitrate rate control).
    public var bitrate: Int
    /// libvpx `cpu-used`: negative values (−16…−1) give a repeatable speed, positive values (1…16) a
    /// time budget that varies with load. −6 is fast enough for 720p on one core.
    public var cpuUsed: Int
    /// Whether to encode so that a decoder recovers from lost frames sooner (costs some efficiency).
    public var errorResilient: Bool
    /// Whether rate control may drop frames when the buffer runs low (off: every frame is encoded).
    public var allowsFrameDropping: Bool
    /// Encoder threads; `nil` picks by resolution (1 below VGA, 2 from VGA, 4 from 720p, capped by cores).
    public var threads: Int?
    /// Lowest and highest quantizer (0…63).
    public var quantizerRange: ClosedRange<Int>

    /// A real-time configuration: 30 fps, `cpu-used` −6, quantizer 2…56, no frame dropping.
    public init(
        width: Int, height: Int, frameRate: Double = 30, bitrate: Int, cpuUsed: Int = -6,
        errorResilient: Bool = false, allowsFrameDropping: Bool = false, threads: Int? = nil,
        quantizerRange: ClosedRange<Int> = 2...56
    ) {
        self.width = width
        self.height = height
        self.frameRate = frameRate
        self.bitrate = bitrate
        self.cpuUsed = cpuUsed
        self.errorResilient = errorResilient
        self.allowsFrameDropping = allowsFrameDropping
        self.threads = threads
        self.quantizerRange = quantizerRange
    }

    /// What a call sends: real-time CBR with error resilience, and one encoder thread up to 720p, two
    /// above.
    ///
    /// One thread, because libvpx's VP8 row threads wait for each other by spinning (`thread_sleep` is
    /// empty on Unix): on a machine whose cores are busy — a kiosk running two directions of a call, or
    /// several calls — a pre-empted partner thread makes the other spin. Measured with two engines in a
    /// VGA call on 2 cores (`parley-call-bench`): 2 threads took 2–8× the CPU of 1 and held 6–18 fps
    /// with ~300 ms latency; 1 thread held 30 fps with ~15 ms.
    public static func forCalls(width: Int, height: Int, frameRate: Double, bitrate: Int) -> VP8EncoderConfiguration {
        VP8EncoderConfiguration(
            width: width, height: height, frameRate: frameRate, bitrate: bitrate, errorResilient: true,
            threads: width * height > 1280 * 720 ? 2 : 1)
    }

    /// The thread count in force: `threads`, or one chosen by resolution.
    public var effectiveThreads: Int {
        if let threads { return threads }
        let pixels = width * height
        let byResolution = pixels >= 1280 * 720 ? 4 : pixels >= 640 * 480 ? 2 : 1
        return max(1, min(byResolution, ProcessInfo.processInfo.activeProcessorCount))
    }

    func validate() throws(MediaError) {
        for (field, value) in [("width", width), ("height", height)] {
            guard (1...16_383).contains(value) else {
                throw .invalidArgument(field: field, reason: "must be 1…16383, got \(value)")
            }
        }
        guard frameRate >= 1, frameRate <= 120 else {
            throw .invalidArgument(field: "frameRate", reason: "must be 1…120, got \(frameRate)")
        }
        guard (10_000...100_000_000).contains(bitrate) else {
            throw .invalidArgument(field: "bitrate", reason: "must be 10000…100000000 bit/s, got \(bitrate)")
        }
        guard (-16...16).contains(cpuUsed) else {
            throw .invalidArgument(field: "cpuUsed", reason: "must be −16…16, got \(cpuUsed)")
        }
        guard quantizerRange.lowerBound >= 0, quantizerRange.upperBound <= 63 else {
            throw .invalidArgument(field: "quantizerRange", reason: "must lie in 0…63, got \(quantizerRange)")
        }
        if let threads, !(1...16).contains(threads) {
            throw .invalidArgument(field: "threads", reason: "must be 1…16, got \(threads)")
        }
    }
}

/// One encoded VP8 frame (RFC 6386) with the timing of the picture it carries.
public struct EncodedVideoFrame: Sendable, Equatable {
    /// The VP8 frame.
    public var payload: [UInt8]
    /// Whether it is a key frame (decodable without any earlier frame).
    public var isKeyFrame: Bool
    /// Picture width in pixels.
    public var width: Int
    /// Picture height in pixels.
    public var height: Int
    /// Presentation time of the picture.
    public var presentationTime: Duration
    /// Capture instant of the picture.
    public var captureInstant: MonotonicInstant

    /// An encoded frame with the given fields.
    public init(
        payload: [UInt8], isKeyFrame: Bool, width: Int, height: Int, presentationTime: Duration,
        captureInstant: MonotonicInstant
    ) {
        self.payload = payload
        self.isKeyFrame = isKeyFrame
        self.width = width
        self.height = height
        self.presentationTime = presentationTime
        self.captureInstant = captureInstant
    }
}

/// The RTP video clock: 90 kHz (RFC 7741 §4.1), also the encoder's time base.
private let videoClockRate: Int64 = 90_000

private func vpxError(
    _ operation: String, _ code: vpx_codec_err_t, _ context: UnsafeMutablePointer<vpx_codec_ctx_t>?
) -> MediaError {
    let detail = context.flatMap { vpx_codec_error_detail($0) }.map { String(cString: $0) } ?? ""
    return .vpx(
        operation: operation, code: Int32(code.rawValue), message: String(cString: vpx_codec_err_to_string(code)),
        detail: detail)
}

/// A real-time VP8 encoder over libvpx: one frame in, at most one frame out, no look-ahead.
///
/// A frame of a different size than configured re-initialises the encoder at that size (the next
/// output is then a key frame). Not thread-safe: use it from one task at a time.
public final class VP8Encoder {
    /// The settings in force.
    public private(set) var configuration: VP8EncoderConfiguration
    private let context: UnsafeMutablePointer<vpx_codec_ctx_t>
    private var codecConfig = vpx_codec_enc_cfg_t()
    private var keyFrameRequested = false
    /// Whether the libvpx context is initialised; false after a failed re-initialisation, and then
    /// the next `apply` or `encode` tries again.
    private var isRunning = false

    /// An encoder with `configuration`.
    public init(configuration: VP8EncoderConfiguration) throws(MediaError) {
        try configuration.validate()
        self.configuration = configuration
        context = .allocate(capacity: 1)
        context.initialize(to: vpx_codec_ctx_t())
        // On failure `deinit` still runs (every property is set) and frees the context.
        try start()
    }

    deinit {
        vpx_codec_destroy(context)
        context.deallocate()
    }

    /// Makes the next encoded frame a key frame.
    public func forceKeyFrame() {
        keyFrameRequested = true
    }

    /// Changes settings while encoding; a new size, thread count or resilience mode re-initialises the
    /// encoder (its next frame is then a key frame).
    ///
    /// On failure the previous settings stay in `configuration`; if re-initialisation failed, the next
    /// `apply` or `encode` tries again.
    public func apply(_ newConfiguration: VP8EncoderConfiguration) throws(MediaError) {
        try newConfiguration.validate()
        let old = configuration
        if !isRunning || old.width != newConfiguration.width || old.height != newConfiguration.height
            || old.effectiveThreads != newConfiguration.effectiveThreads
            || old.errorResilient != newConfiguration.errorResilient
        {
            configuration = newConfiguration
            do {
                try restart()
            } catch {
                configuration = old
                throw error
            }
            return
        }
        var config = codecConfig
        fillRateControl(&config, newConfiguration)
        let status = vpx_codec_enc_config_set(context, &config)
        guard status == VPX_CODEC_OK else { throw vpxError("vpx_codec_enc_config_set", status, context) }
        codecConfig = config
        configuration = newConfiguration
        if old.cpuUsed != newConfiguration.cpuUsed {
            try control(VP8E_SET_CPUUSED.rawValue, newConfiguration.cpuUsed, "VP8E_SET_CPUUSED")
        }
        if old.frameRate != newConfiguration.frameRate {
            try setMaxIntraBitrate()
        }
    }

    /// Encodes `frame`; returns `nil` only if rate control dropped it (`allowsFrameDropping`).
    ///
    /// - Throws: `MediaError.vpx` if libvpx fails.
    public func encode(_ frame: VideoFrame) throws(MediaError) -> EncodedVideoFrame? {
        if frame.width != configuration.width || frame.height != configuration.height || !isRunning {
            var resized = configuration
            resized.width = frame.width
            resized.height = frame.height
            try apply(resized)
        }
        var flags: vpx_enc_frame_flags_t = 0
        if keyFrameRequested {
            flags |= vpx_enc_frame_flags_t(VPX_EFLAG_FORCE_KF)
        }
        let pts = frame.presentationTime.ticks(atRate: videoClockRate)
        let frameDuration = UInt(max(1, (Double(videoClockRate) / configuration.frameRate).rounded()))
        let status = frame.withPlaneBaseAddresses { y, u, v -> vpx_codec_err_t in
            var image = vpx_image_t()
            guard vpx_img_wrap(
                &image, VPX_IMG_FMT_I420, UInt32(frame.width), UInt32(frame.height), 1, UnsafeMutablePointer(mutating: y)
            ) != nil else { return VPX_CODEC_INVALID_PARAM }
            image.planes = (
                UnsafeMutablePointer(mutating: y), UnsafeMutablePointer(mutating: u),
                UnsafeMutablePointer(mutating: v), nil
            )
            image.stride = (
                Int32(frame.stride(of: .y)), Int32(frame.stride(of: .u)), Int32(frame.stride(of: .v)), 0
            )
            return vpx_codec_encode(context, &image, pts, frameDuration, flags, UInt(VPX_DL_REALTIME))
        }
        guard status == VPX_CODEC_OK else { throw vpxError("vpx_codec_encode", status, context) }
        keyFrameRequested = false

        // Without VPX_CODEC_USE_OUTPUT_PARTITION libvpx returns one frame packet per encoded frame.
        var payload: [UInt8] = []
        var isKeyFrame = false
        var iterator: vpx_codec_iter_t? = nil
        while let packet = vpx_codec_get_cx_data(context, &iterator) {
            guard parley_vpx_packet_is_frame(packet) != 0 else { continue }
            let data = packet.pointee.data.frame
            payload.append(contentsOf: UnsafeRawBufferPointer(start: data.buf, count: data.sz))
            isKeyFrame = isKeyFrame || (data.flags & vpx_codec_frame_flags_t(VPX_FRAME_IS_KEY)) != 0
        }
        guard !payload.isEmpty else { return nil }
        return EncodedVideoFrame(
            payload: payload, isKeyFrame: isKeyFrame, width: frame.width, height: frame.height,
            presentationTime: frame.presentationTime, captureInstant: frame.captureInstant)
    }

    /// (Re-)initialises the libvpx context from `configuration`.
    private func restart() throws(MediaError) {
        if isRunning {
            vpx_codec_destroy(context)
            context.initialize(to: vpx_codec_ctx_t())
            isRunning = false
        }
        try start()
    }

    private func start() throws(MediaError) {
        var config = vpx_codec_enc_cfg_t()
        var status = parley_vp8_encoder_default_config(&config)
        guard status == VPX_CODEC_OK else { throw vpxError("vpx_codec_enc_config_default", status, nil) }
        config.g_w = UInt32(configuration.width)
        config.g_h = UInt32(configuration.height)
        config.g_timebase = vpx_rational(num: 1, den: Int32(videoClockRate))
        config.g_lag_in_frames = 0
        config.g_pass = VPX_RC_ONE_PASS
        config.g_threads = UInt32(configuration.effectiveThreads)
        config.g_error_resilient = configuration.errorResilient ? vpx_codec_er_flags_t(VPX_ERROR_RESILIENT_DEFAULT) : 0
        config.rc_end_usage = VPX_CBR
        config.rc_resize_allowed = 0
        config.rc_undershoot_pct = 100
        config.rc_overshoot_pct = 15
        config.rc_buf_initial_sz = 500
        config.rc_buf_optimal_sz = 600
        config.rc_buf_sz = 1_000
        // Key frames come on request (a receiver's PLI) and otherwise rarely.
        config.kf_mode = VPX_KF_AUTO
        config.kf_min_dist = 0
        config.kf_max_dist = 3_000
        fillRateControl(&config, configuration)
        codecConfig = config
        status = parley_vp8_encoder_init(context, &codecConfig, 0)
        guard status == VPX_CODEC_OK else { throw vpxError("vpx_codec_enc_init", status, context) }
        isRunning = true
        try control(VP8E_SET_CPUUSED.rawValue, configuration.cpuUsed, "VP8E_SET_CPUUSED")
        try control(VP8E_SET_NOISE_SENSITIVITY.rawValue, 0, "VP8E_SET_NOISE_SENSITIVITY")
        try control(VP8E_SET_STATIC_THRESHOLD.rawValue, 1, "VP8E_SET_STATIC_THRESHOLD")
        let partitions = configuration.effectiveThreads >= 4 ? 2 : configuration.effectiveThreads >= 2 ? 1 : 0
        try control(VP8E_SET_TOKEN_PARTITIONS.rawValue, partitions, "VP8E_SET_TOKEN_PARTITIONS")
        try setMaxIntraBitrate()
        keyFrameRequested = false
    }

    /// Caps a key frame at this percentage of an average frame's budget, so key frames do not stall
    /// the stream (0.5 × the optimal buffer in frames, as WebRTC does; at least 300 %).
    private func setMaxIntraBitrate() throws(MediaError) {
        let maxIntra = max(300, Int(600.0 * 0.5 * configuration.frameRate / 10))
        try control(VP8E_SET_MAX_INTRA_BITRATE_PCT.rawValue, maxIntra, "VP8E_SET_MAX_INTRA_BITRATE_PCT")
    }

    private func fillRateControl(_ config: inout vpx_codec_enc_cfg_t, _ configuration: VP8EncoderConfiguration) {
        config.rc_target_bitrate = UInt32(max(1, configuration.bitrate / 1_000))
        config.rc_min_quantizer = UInt32(configuration.quantizerRange.lowerBound)
        config.rc_max_quantizer = UInt32(configuration.quantizerRange.upperBound)
        config.rc_dropframe_thresh = configuration.allowsFrameDropping ? 30 : 0
    }

    private func control(_ id: UInt32, _ value: Int, _ name: String) throws(MediaError) {
        let status = parley_vpx_control_int(context, Int32(id), Int32(value))
        guard status == VPX_CODEC_OK else { throw vpxError("vpx_codec_control(\(name))", status, context) }
    }
}

/// A VP8 decoder over libvpx, returning I420 frames.
///
/// Corrupt, truncated or unreferenced input throws `MediaError.corruptInput`; decoding resumes at the
/// next good key frame. A key frame larger than `maximumWidth`×`maximumHeight` is refused before
/// libvpx allocates for it, so a few forged bytes cannot make the decoder take gigabytes.
/// Not thread-safe: use it from one task at a time.
public final class VP8Decoder {
    /// The widest picture accepted.
    public let maximumWidth: Int
    /// The tallest picture accepted.
    public let maximumHeight: Int
    private let context: UnsafeMutablePointer<vpx_codec_ctx_t>
    /// Largest input accepted: far above any real VP8 frame, well below libvpx's 32-bit size.
    private static let maximumFrameBytes = 16 << 20

    /// A decoder using `threads` threads, accepting pictures up to `maximumWidth`×`maximumHeight`
    /// (default 3840×2160).
    public init(threads: Int = 1, maximumWidth: Int = 3_840, maximumHeight: Int = 2_160) throws(MediaError) {
        guard (1...16).contains(threads) else {
            throw .invalidArgument(field: "threads", reason: "must be 1…16, got \(threads)")
        }
        guard (1...16_383).contains(maximumWidth), (1...16_383).contains(maximumHeight) else {
            throw .invalidArgument(field: "maximumWidth", reason: "maximum size must lie in 1…16383")
        }
        self.maximumWidth = maximumWidth
        self.maximumHeight = maximumHeight
        context = .allocate(capacity: 1)
        context.initialize(to: vpx_codec_ctx_t())
        // On failure `deinit` still runs (every property is set) and frees the context.
        let status = parley_vp8_decoder_init(context, UInt32(threads), 0)
        guard status == VPX_CODEC_OK else { throw vpxError("vpx_codec_dec_init", status, context) }
    }

    deinit {
        vpx_codec_destroy(context)
        context.deallocate()
    }

    /// Decodes one VP8 frame into a picture carrying the given timing.
    ///
    /// - Throws: `MediaError.corruptInput` if the frame cannot be decoded, its references are missing,
    ///   or it announces a picture larger than the maximum.
    public func decode(
        _ payload: ArraySlice<UInt8>, presentationTime: Duration = .zero, captureInstant: MonotonicInstant = .zero
    ) throws(MediaError) -> VideoFrame {
        guard !payload.isEmpty else { throw .corruptInput(codec: "vp8", detail: "empty frame") }
        guard payload.count <= Self.maximumFrameBytes else {
            throw .corruptInput(codec: "vp8", detail: "frame of \(payload.count) bytes is too large")
        }
        let status = payload.withUnsafeBufferPointer { bytes -> vpx_codec_err_t in
            var info = vpx_codec_stream_info_t()
            info.sz = UInt32(MemoryLayout<vpx_codec_stream_info_t>.size)
            if vpx_codec_peek_stream_info(vpx_codec_vp8_dx(), bytes.baseAddress, UInt32(bytes.count), &info)
                == VPX_CODEC_OK, info.is_kf != 0,
                Int(info.w) > maximumWidth || Int(info.h) > maximumHeight
            {
                return VPX_CODEC_MEM_ERROR
            }
            return vpx_codec_decode(context, bytes.baseAddress, UInt32(bytes.count), nil, 0)
        }
        if status == VPX_CODEC_MEM_ERROR {
            throw .corruptInput(
                codec: "vp8", detail: "key frame larger than the maximum \(maximumWidth)x\(maximumHeight)")
        }
        guard status == VPX_CODEC_OK else {
            let error = vpxError("vpx_codec_decode", status, context)
            throw .corruptInput(codec: "vp8", detail: "\(error)")
        }
        var corrupted: Int32 = 0
        if parley_vpx_control_int_pointer(context, Int32(VP8D_GET_FRAME_CORRUPTED.rawValue), &corrupted)
            == VPX_CODEC_OK, corrupted != 0
        {
            throw .corruptInput(codec: "vp8", detail: "frame decoded with missing or corrupt references")
        }
        var iterator: vpx_codec_iter_t? = nil
        var result: VideoFrame?
        while let image = vpx_codec_get_frame(context, &iterator) {
            result = try picture(from: image.pointee, presentationTime, captureInstant)
        }
        guard let result else { throw .corruptInput(codec: "vp8", detail: "decoder returned no picture") }
        return result
    }

    /// Decodes one VP8 frame into a picture carrying the given timing.
    public func decode(
        _ payload: [UInt8], presentationTime: Duration = .zero, captureInstant: MonotonicInstant = .zero
    ) throws(MediaError) -> VideoFrame {
        try decode(payload[...], presentationTime: presentationTime, captureInstant: captureInstant)
    }

    private func picture(
        from image: vpx_image_t, _ presentationTime: Duration, _ captureInstant: MonotonicInstant
    ) throws(MediaError) -> VideoFrame {
        guard image.fmt == VPX_IMG_FMT_I420, let y = image.planes.0, let u = image.planes.1,
            let v = image.planes.2
        else {
            throw .corruptInput(codec: "vp8", detail: "decoder returned an image that is not I420")
        }
        var frame: VideoFrame
        do {
            frame = try VideoFrame(
                width: Int(image.d_w), height: Int(image.d_h), presentationTime: presentationTime,
                captureInstant: captureInstant)
        } catch {
            throw .corruptInput(codec: "vp8", detail: "decoded picture has an impossible size \(image.d_w)x\(image.d_h)")
        }
        frame.copyPlane(.y, from: y, sourceStride: Int(image.stride.0))
        frame.copyPlane(.u, from: u, sourceStride: Int(image.stride.1))
        frame.copyPlane(.v, from: v, sourceStride: Int(image.stride.2))
        return frame
    }
}
