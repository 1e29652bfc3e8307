/// The middle value of `values` (the upper middle for an even count); `values` must not be empty.
public func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// `value` with exactly `decimals` digits after the point, rounded half away from zero, without
/// Foundation's formatters (so the benchmarks' tables read the same on every machine).
public func format(_ value: Double, decimals: Int) -> String {
    var scaled = value
    for _ in 0..<decimals { scaled *= 10 }
    let rounded = Int(scaled.rounded())
    guard decimals > 0 else { return "\(rounded)" }
    var divisor = 1
    for _ in 0..<decimals { divisor *= 10 }
    let sign = rounded < 0 ? "-" : ""
    let magnitude = abs(rounded)
    let fraction = String(magnitude % divisor)
    return sign + "\(magnitude / divisor)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}
