import ParleyMedia
var mic = try SyntheticMicrophone()
var src: [Int16] = []
for _ in 0..<150 { src += mic.nextFrame(sampleCount: 960, captureInstant: .zero).samples }
print("rms", (src.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(src.count)).squareRoot(), "peak", src.map { abs(Int($0)) }.max()!)
for br in [24000, 32000, 40000, 48000, 64000] {
  for fec in [false, true] {
    let enc = try OpusEncoder(configuration: .init(bitrate: br, inbandFEC: fec, expectedPacketLossPercent: 10))
    var packets: [[UInt8]] = []
    for i in 0..<150 { packets.append(try enc.encode(AudioFrame(channelCount: 1, samples: Array(src[i*960..<(i+1)*960]))).payload) }
    let ref = [Int16](repeating: 0, count: enc.lookahead) + src
    var ce = 0.0, re = 0.0
    for lost in stride(from: 20, to: 140, by: 3) where lost % 25 != 12 && lost % 25 != 13 {
      let a = try OpusDecoder(), b = try OpusDecoder()
      var ca: [Int16] = [], rb: [Int16] = []
      for i in 0...lost { if i == lost { ca += try a.concealLoss(sampleCount: 960).samples; rb += try b.recoverLoss(usingFECFrom: packets[i+1], sampleCount: 960).samples } else { ca += try a.decode(packets[i]).samples; rb += try b.decode(packets[i]).samples } }
      ce += MediaQuality.errorEnergy(ca, reference: ref, range: lost*960..<(lost+1)*960)
      re += MediaQuality.errorEnergy(rb, reference: ref, range: lost*960..<(lost+1)*960)
    }
    let d = try OpusDecoder(); var out: [Int16] = []; for p in packets { out += try d.decode(p).samples }
    let markers = AudioMarker.detectStarts(in: out).map { $0 - enc.lookahead }
    print(br, fec, "FEC/PLC", re/ce, "corr", MediaQuality.correlation(out, reference: src, lag: enc.lookahead)!, "kbps", Double(packets.reduce(0) { $0 + $1.count } * 8) / 3000, "markers", zip(markers, mic.markerStarts(in: 0..<src.count)).map { $0 - $1 })
  }
}
