#include "eval/ruler_layout.h"

#include <algorithm>

namespace compactor::eval {

std::vector<std::string> place_at_depths(const std::vector<std::string>& units, std::vector<Placement> placements) {
    std::stable_sort(placements.begin(), placements.end(),
                     [](const Placement& a, const Placement& b) { return a.depth < b.depth; });

    const size_t n = units.size();
    std::vector<std::string> out;
    out.reserve(n + placements.size());
    size_t next = 0;
    for (size_t gap = 0; gap <= n; ++gap) {
        while (next < placements.size()) {
            const double depth = std::clamp(placements[next].depth, 0.0, 1.0);
            const size_t position = std::min(n, static_cast<size_t>(depth * static_cast<double>(n + 1)));
            if (position != gap) break;
            out.push_back(placements[next].text);
            ++next;
        }
        if (gap < n) out.push_back(units[gap]);
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += separator;
        out += parts[i];
    }
    return out;
}

}  // namespace compactor::eval
