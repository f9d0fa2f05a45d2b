#include "cli/bench_memory.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

#include <spdlog/spdlog.h>

namespace compactor::cli {

namespace {

// VmHWM from /proc/self/status in bytes, 0 when unavailable.
size_t read_vm_hwm() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmHWM:", 0) != 0) continue;
        std::istringstream fields(line.substr(6));
        size_t kib = 0;
        fields >> kib;
        return kib * 1024;
    }
    return 0;
}

}  // namespace

bool reset_peak_rss() {
    std::ofstream clear_refs("/proc/self/clear_refs");
    clear_refs << "5";
    clear_refs.flush();
    if (!clear_refs) {
        spdlog::warn("bench: cannot reset the peak-RSS mark through /proc/self/clear_refs; peak memory covers "
                     "the whole process");
        return false;
    }
    return true;
}

PeakRss peak_rss(bool reset_succeeded) {
    if (reset_succeeded) {
        if (const size_t hwm = read_vm_hwm(); hwm > 0) return {hwm, "since_reset"};
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    // Linux reports ru_maxrss in KiB.
    return {static_cast<size_t>(usage.ru_maxrss) * 1024, "process"};
}

}  // namespace compactor::cli
