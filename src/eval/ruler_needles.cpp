// The eight needle-in-a-haystack tasks. A needle is one sentence that gives a
// special magic value (7-digit number or UUID) for a key (adjective-noun pair
// or UUID). The context's instructions state that such needles are hidden,
// and only the question names the key it requests.
#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "eval/ruler_builtin.h"
#include "eval/ruler_layout.h"
#include "eval/ruler_random.h"
#include "eval/ruler_tasks.h"

namespace compactor::eval {

namespace {

enum class HaystackKind {
    noise,    // noise_line() repeated, one copy per line
    essay,    // consecutive prose sentences from a random start
    needles,  // distractor needles with other keys and values, one per line
};

struct NeedleSpec {
    const char* task;
    HaystackKind haystack;
    bool uuid_keys;
    bool uuid_values;
    int n_keys;     // keys that have needles
    int n_values;   // needles (values) per key
    int n_queries;  // keys the question names
};

const std::vector<NeedleSpec>& needle_specs() {
    static const std::vector<NeedleSpec> specs = {
        {"niah_single_1", HaystackKind::noise, false, false, 1, 1, 1},
        {"niah_single_2", HaystackKind::essay, false, false, 1, 1, 1},
        {"niah_single_3", HaystackKind::essay, false, true, 1, 1, 1},
        {"niah_multikey_1", HaystackKind::essay, false, false, 4, 1, 1},
        {"niah_multikey_2", HaystackKind::needles, false, false, 1, 1, 1},
        {"niah_multikey_3", HaystackKind::needles, true, true, 1, 1, 1},
        {"niah_multivalue", HaystackKind::essay, false, false, 1, 4, 1},
        {"niah_multiquery", HaystackKind::essay, false, false, 4, 1, 4},
    };
    return specs;
}

const NeedleSpec* find_spec(const std::string& task) {
    for (const NeedleSpec& spec : needle_specs()) {
        if (task == spec.task) return &spec;
    }
    return nullptr;
}

// Maximum attempts at drawing a key or value unlike the ones already taken.
// The smallest key space (built-in words) has over 10,000 pairs, so running
// out means a broken word list.
constexpr int kMaxDraws = 100000;

// Random 128 bits formatted as a version-4 UUID.
std::string draw_uuid(SampleRandom& random) {
    uint64_t high = random.next_u64();
    uint64_t low = random.next_u64();
    high = (high & ~0xf000ULL) | 0x4000ULL;
    low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff, high & 0xffff,
                       low >> 48, low & 0xffffffffffffULL);
}

std::string draw_key(SampleRandom& random, const WordLists* words, bool uuid) {
    if (uuid) return draw_uuid(random);
    const std::string& adjective = random.pick(words->adjectives);
    return adjective + "-" + random.pick(words->nouns);
}

std::string draw_value(SampleRandom& random, bool uuid) {
    if (uuid) return draw_uuid(random);
    return std::to_string(random.between(1000000, 9999999));
}

// True when one text contains the other, so that finding one in an answer
// could stand for the other.
bool overlaps(const std::string& a, const std::string& b) {
    return a.find(b) != std::string::npos || b.find(a) != std::string::npos;
}

// A key that neither contains nor is contained in any of `avoid`.
std::string draw_key_unlike(SampleRandom& random, const WordLists* words, bool uuid,
                            const std::vector<std::string>& avoid) {
    for (int attempt = 0; attempt < kMaxDraws; ++attempt) {
        std::string key = draw_key(random, words, uuid);
        const bool clash = std::any_of(avoid.begin(), avoid.end(), [&](const std::string& other) {
            return overlaps(key, other);
        });
        if (!clash) return key;
    }
    throw std::runtime_error("could not draw a needle key unlike the " + std::to_string(avoid.size()) +
                             " keys already used; the word lists are too small");
}

std::string draw_value_unlike(SampleRandom& random, bool uuid, const std::set<std::string>& avoid) {
    for (int attempt = 0; attempt < kMaxDraws; ++attempt) {
        std::string value = draw_value(random, uuid);
        if (!avoid.count(value)) return value;
    }
    throw std::runtime_error("could not draw a needle value unlike the ones already used");
}

std::string needle_sentence(const std::string& key, const std::string& value, bool uuid_values) {
    return fmt::format("A special magic {} for {} is {}.", uuid_values ? "UUID" : "number", key, value);
}

// "a", "a and b", "a, b and c", ...
std::string list_keys(const std::vector<std::string>& keys) {
    std::string out;
    for (size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out += i + 1 == keys.size() ? " and " : ", ";
        out += keys[i];
    }
    return out;
}

struct NeedleWording {
    std::string instructions;
    std::string question;
    std::string answer_prefix;
};

NeedleWording needle_wording(const NeedleSpec& spec, const std::vector<std::string>& asked_keys) {
    const std::string kind = spec.uuid_values ? "UUID" : "number";
    const std::string kinds = kind + "s";
    const std::string keys = list_keys(asked_keys);

    NeedleWording wording;
    if (spec.n_values > 1) {
        wording.instructions = fmt::format(
            "Special magic {0} are hidden in the text below. Each one is given for a key, and a key can have "
            "several of them. Memorize every key with all of its special magic {0}, because a question about "
            "them follows the text.",
            kinds);
        wording.question = fmt::format("What are all the special magic {} for {} in the text above?", kinds, keys);
        wording.answer_prefix = fmt::format("The special magic {} for {} in the text above are", kinds, keys);
    } else if (asked_keys.size() > 1) {
        wording.instructions = fmt::format(
            "Special magic {} are hidden in the text below, each one given for a key. Memorize every key with "
            "its special magic {}, because a question about them follows the text.",
            kinds, kind);
        wording.question = fmt::format("What are the special magic {} for {} in the text above?", kinds, keys);
        wording.answer_prefix = fmt::format("The special magic {} for {} in the text above are", kinds, keys);
    } else {
        wording.instructions = fmt::format(
            "Special magic {} are hidden in the text below, each one given for a key. Memorize every key with "
            "its special magic {}, because a question about them follows the text.",
            kinds, kind);
        wording.question = fmt::format("What is the special magic {} for {} in the text above?", kind, keys);
        wording.answer_prefix = fmt::format("The special magic {} for {} in the text above is", kind, keys);
    }
    return wording;
}

// Distractor needles drawn one at a time from their own generator, so that
// the first n are the same however often and in whatever order the sizer
// requests them.
class DistractorPool {
public:
    DistractorPool(uint64_t seed, const NeedleSpec& spec, const WordLists* words, std::vector<std::string> real_keys,
                   std::set<std::string> real_values)
        : random_(seed),
          spec_(spec),
          words_(words),
          real_keys_(std::move(real_keys)),
          used_values_(std::move(real_values)) {}

    const std::vector<std::string>& lines(size_t n) {
        while (lines_.size() < n) {
            std::string key;
            for (int attempt = 0; attempt < kMaxDraws && (key.empty() || used_keys_.count(key)); ++attempt) {
                key = draw_key_unlike(random_, words_, spec_.uuid_keys, real_keys_);
            }
            if (used_keys_.count(key)) throw std::runtime_error("ran out of distinct distractor needle keys");
            used_keys_.insert(key);

            std::string value = draw_value_unlike(random_, spec_.uuid_values, used_values_);
            used_values_.insert(value);
            lines_.push_back(needle_sentence(key, value, spec_.uuid_values));
        }
        return lines_;
    }

private:
    SampleRandom random_;
    const NeedleSpec& spec_;
    const WordLists* words_;
    std::vector<std::string> real_keys_;
    std::set<std::string> used_keys_;
    std::set<std::string> used_values_;
    std::vector<std::string> lines_;
};

// Upper bound on haystack units where the source has no natural end. The
// sizer stops long before it at any target length a model can take.
constexpr int64_t kMaxUnits = int64_t{1} << 20;

}  // namespace

bool is_needle_task(const std::string& task) {
    return find_spec(task) != nullptr;
}

Sample build_needle_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    const NeedleSpec* found = find_spec(request.task);
    if (found == nullptr) throw std::invalid_argument("not a needle task: " + request.task);
    const NeedleSpec& spec = *found;
    SampleRandom random(sample_seed(request.seed, request.task, request.index, request.target_tokens));

    // Files first, so that a missing one is reported before any work.
    const WordLists* words = spec.uuid_keys ? nullptr : &data.words();
    const std::vector<std::string>* essay = spec.haystack == HaystackKind::essay ? &data.essay_sentences() : nullptr;

    // Keys, values and the needles that carry them.
    std::vector<std::string> keys;
    for (int i = 0; i < spec.n_keys; ++i) keys.push_back(draw_key_unlike(random, words, spec.uuid_keys, keys));
    const std::vector<std::string> asked_keys(keys.begin(), keys.begin() + spec.n_queries);

    std::set<std::string> values;
    std::vector<std::pair<std::string, std::string>> needles;  // (key, value)
    std::vector<std::string> references;
    for (const std::string& key : keys) {
        for (int v = 0; v < spec.n_values; ++v) {
            std::string value = draw_value_unlike(random, spec.uuid_values, values);
            values.insert(value);
            if (std::find(asked_keys.begin(), asked_keys.end(), key) != asked_keys.end()) references.push_back(value);
            needles.emplace_back(key, std::move(value));
        }
    }
    random.shuffle(needles);

    // Each needle gets its own equal slice of the document and a random depth
    // inside it, so that several needles spread over the whole text.
    std::vector<Placement> placements;
    for (size_t j = 0; j < needles.size(); ++j) {
        const double depth = (static_cast<double>(j) + random.unit()) / static_cast<double>(needles.size());
        placements.push_back({depth, needle_sentence(needles[j].first, needles[j].second, spec.uuid_values)});
    }

    const size_t essay_start = essay ? static_cast<size_t>(random.below(essay->size())) : 0;
    DistractorPool distractors(random.child_seed(), spec, words, keys, values);
    const NeedleWording wording = needle_wording(spec, asked_keys);

    Sample header = make_sample_header(request, "string_match_all", kNeedleAnswerTokens);
    header.question = "\n\n" + wording.question;
    header.answer_prefix = wording.answer_prefix;
    header.references = references;

    // Essay sentences run on in one paragraph, while noise and needle lines
    // are one per line.
    const char* separator = spec.haystack == HaystackKind::essay ? " " : "\n";

    auto build = [&](int64_t n_units) {
        std::vector<std::string> units;
        switch (spec.haystack) {
            case HaystackKind::noise:
                units.assign(static_cast<size_t>(n_units), noise_line());
                break;
            case HaystackKind::essay:
                for (int64_t i = 0; i < n_units; ++i) units.push_back((*essay)[(essay_start + i) % essay->size()]);
                break;
            case HaystackKind::needles: {
                const std::vector<std::string>& lines = distractors.lines(static_cast<size_t>(n_units));
                units.assign(lines.begin(), lines.begin() + n_units);
                break;
            }
        }

        Sample sample = header;
        sample.context = wording.instructions + "\n\n" + join(place_at_depths(units, placements), separator);
        return sample;
    };

    const int64_t max_units = essay ? static_cast<int64_t>(essay->size()) : kMaxUnits;
    return sizer.fit(build, 1, max_units).sample;
}

}  // namespace compactor::eval
