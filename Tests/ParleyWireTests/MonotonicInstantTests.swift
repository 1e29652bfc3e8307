import ParleyWire
import Testing

@Suite struct MonotonicInstantTests {
    @Test func addingAndSubtractingDurationsRoundTrips() {
        let start = MonotonicInstant(nanoseconds: 5_000_000_123)
        let later = start + .milliseconds(250)
        #expect(later.nanoseconds == 5_250_000_123)
        #expect(later - start == .milliseconds(250))
        #expect(later - .milliseconds(250) == start)
        #expect(start < later)
    }

    @Test func microsecondsRoundDownEvenBeforeTheEpoch() {
        #expect(MonotonicInstant(nanoseconds: 1_999).microseconds == 1)
        #expect(MonotonicInstant(nanoseconds: -1).microseconds == -1)
        #expect(MonotonicInstant(nanoseconds: 7_654_321).truncatedToMicroseconds.nanoseconds == 7_654_000)
    }

    @Test func durationConvertsToNanosecondsAndSeconds() {
        #expect(Duration.milliseconds(1_500).totalNanoseconds == 1_500_000_000)
        #expect(Duration.microseconds(-20).totalNanoseconds == -20_000)
        #expect(Duration.milliseconds(20).inSeconds == 0.02)
    }

    @Test func descriptionShowsSecondsWithNineDecimals() {
        #expect(MonotonicInstant(nanoseconds: 3_000_000_042).description == "3.000000042s")
    }
}
