#include "eval/metrics_edit.h"

#include <cmath>
#include <cstdint>
#include <iterator>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "eval/metrics_text.h"

namespace compactor::eval {

namespace {

struct Block {
    size_t a = 0;
    size_t b = 0;
    size_t size = 0;
};

class SequenceMatcher {
public:
    SequenceMatcher(std::u32string_view a, std::u32string_view b) : a_(a), b_(b) {
        for (size_t j = 0; j < b_.size(); ++j) b2j_[b_[j]].push_back(j);

        // difflib's autojunk: characters that fill more than 1% of a long b
        // are dropped from the index (they can only extend a block).
        if (b_.size() >= 200) {
            const size_t n_test = b_.size() / 100 + 1;
            for (auto it = b2j_.begin(); it != b2j_.end();) {
                it = it->second.size() > n_test ? b2j_.erase(it) : std::next(it);
            }
        }
    }

    // Characters inside all matching blocks.
    size_t n_matches() const {
        size_t total = 0;
        std::vector<std::tuple<size_t, size_t, size_t, size_t>> queue = {{0, a_.size(), 0, b_.size()}};
        while (!queue.empty()) {
            const auto [a_lo, a_hi, b_lo, b_hi] = queue.back();
            queue.pop_back();
            const Block block = longest_match(a_lo, a_hi, b_lo, b_hi);
            if (block.size == 0) continue;
            total += block.size;
            if (a_lo < block.a && b_lo < block.b) queue.emplace_back(a_lo, block.a, b_lo, block.b);
            if (block.a + block.size < a_hi && block.b + block.size < b_hi) {
                queue.emplace_back(block.a + block.size, a_hi, block.b + block.size, b_hi);
            }
        }
        return total;
    }

private:
    // difflib's find_longest_match without a junk predicate: the longest
    // block of indexed characters, earliest in a then in b, then extended
    // over equal neighbours of any kind.
    Block longest_match(size_t a_lo, size_t a_hi, size_t b_lo, size_t b_hi) const {
        Block best{a_lo, b_lo, 0};
        std::unordered_map<size_t, size_t> run_ending_at;  // j -> length of the block ending at (i - 1, j)
        std::unordered_map<size_t, size_t> next_runs;
        for (size_t i = a_lo; i < a_hi; ++i) {
            next_runs.clear();
            auto found = b2j_.find(a_[i]);
            if (found != b2j_.end()) {
                for (size_t j : found->second) {
                    if (j < b_lo) continue;
                    if (j >= b_hi) break;
                    size_t k = 1;
                    if (j > 0) {
                        auto previous = run_ending_at.find(j - 1);
                        if (previous != run_ending_at.end()) k = previous->second + 1;
                    }
                    next_runs[j] = k;
                    if (k > best.size) best = Block{i + 1 - k, j + 1 - k, k};
                }
            }
            std::swap(run_ending_at, next_runs);
        }

        while (best.a > a_lo && best.b > b_lo && a_[best.a - 1] == b_[best.b - 1]) {
            --best.a;
            --best.b;
            ++best.size;
        }
        while (best.a + best.size < a_hi && best.b + best.size < b_hi &&
               a_[best.a + best.size] == b_[best.b + best.size]) {
            ++best.size;
        }
        return best;
    }

    std::u32string_view a_;
    std::u32string_view b_;
    std::unordered_map<char32_t, std::vector<size_t>> b2j_;
};

}  // namespace

double sequence_matcher_ratio(std::u32string_view a, std::u32string_view b) {
    const size_t length = a.size() + b.size();
    if (length == 0) return 1.0;
    const SequenceMatcher matcher(a, b);
    return 2.0 * static_cast<double>(matcher.n_matches()) / static_cast<double>(length);
}

double fuzz_ratio(std::string_view a, std::string_view b) {
    const std::u32string a_points = to_code_points(a);
    const std::u32string b_points = to_code_points(b);
    if (a_points == b_points) return 1.0;
    if (a_points.empty() || b_points.empty()) return 0.0;

    // fuzzywuzzy rounds with Python's round(), which breaks ties to even, as
    // nearbyint does in the default rounding mode.
    const double percent = std::nearbyint(100 * sequence_matcher_ratio(a_points, b_points));
    return percent / 100;
}

double code_sim_score(std::string_view prediction, std::string_view reference) {
    const size_t start = prediction.find_first_not_of('\n');
    const std::string_view rest = start == std::string_view::npos ? std::string_view() : prediction.substr(start);

    std::string_view code_line;
    for (std::string_view line : split_on(rest, '\n')) {
        const bool is_comment_or_fence = line.find('`') != std::string_view::npos ||
                                         line.find('#') != std::string_view::npos ||
                                         line.find("//") != std::string_view::npos;
        if (!is_comment_or_fence) {
            code_line = line;
            break;
        }
    }
    return fuzz_ratio(code_line, reference);
}

}  // namespace compactor::eval
