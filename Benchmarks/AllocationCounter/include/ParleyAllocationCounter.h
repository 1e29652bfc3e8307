#ifndef PARLEY_ALLOCATION_COUNTER_H
#define PARLEY_ALLOCATION_COUNTER_H

/// Heap allocations (malloc, calloc, realloc, aligned allocations) made by the whole process since it
/// started. Linking this target into an executable interposes the C allocator for every library the
/// process loads; benchmarks only.
unsigned long long parley_allocation_count(void);

#endif
