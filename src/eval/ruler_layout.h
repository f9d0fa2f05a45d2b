// Assembling haystacks: joining units and placing needles at depths.
#pragma once

#include <string>
#include <vector>

namespace compactor::eval {

// A piece of text to place inside a haystack at a relative depth in [0, 1).
struct Placement {
    double depth = 0.0;
    std::string text;
};

// `units` with every placement inserted between them: a placement at depth d
// goes before unit floor(d * (n + 1)) of the n units (after the last one when
// that is n), so each of the n + 1 gaps is equally likely for a uniform d.
// Placements keep their order where they fall into the same gap, and their
// relative order follows their depths.
std::vector<std::string> place_at_depths(const std::vector<std::string>& units, std::vector<Placement> placements);

std::string join(const std::vector<std::string>& parts, const std::string& separator);

}  // namespace compactor::eval
