print("security benchmarks: not yet written")
