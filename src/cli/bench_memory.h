// Peak resident memory of this process, for `compactor bench`.
#pragma once

#include <cstddef>
#include <string>

namespace compactor::cli {

// Resets the kernel's peak-RSS mark (VmHWM) by writing 5 to
// /proc/self/clear_refs (Linux 4.0 and later). Returns false when the kernel
// or a sandbox refuses; the peak then covers the whole process lifetime.
bool reset_peak_rss();

struct PeakRss {
    size_t bytes = 0;
    // "since_reset": VmHWM since the last successful reset_peak_rss();
    // "process": getrusage's ru_maxrss, the peak since the process started.
    std::string scope;
};

// Resident pages count model file pages that are mapped and touched, the
// dequantized weights, KV caches, activations and allocator slack.
PeakRss peak_rss(bool reset_succeeded);

}  // namespace compactor::cli
