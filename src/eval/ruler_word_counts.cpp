// Word extraction tasks. In cwe, 10 words of a numbered list appear far more
// often than all others, and the answer is those 10. In fwe, coded words
// have counts that follow a Zipf law with exponent 2, and the answer is the
// three most frequent after the top one, which a run of dots replaces.
#include <cmath>
#include <numbers>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "eval/ruler_layout.h"
#include "eval/ruler_random.h"
#include "eval/ruler_tasks.h"

namespace compactor::eval {

namespace {

constexpr int kCommonWords = 10;
// The worked example of cwe: kCommonWords words twice each and a few once.
constexpr int kExampleRepeats = 2;
constexpr int kExampleRareWords = 5;
// Minimum number of rare words, so that the common words stand out from others.
constexpr int64_t kMinRareWords = 10;
// Below this target the list uses 6 and 1 copies per word, from it 30 and 3.
constexpr int64_t kLongListTokens = 4096;

// fwe: coded words of kCodedWordLength random lowercase letters; the dots
// replace the most frequent one.
constexpr int kCodedWordLength = 6;
constexpr const char* kDots = "......";
constexpr int kFrequentAnswers = 3;
constexpr int64_t kMaxCodedTokens = int64_t{1} << 22;

bool overlaps_any(const std::string& word, const std::vector<std::string>& others) {
    for (const std::string& other : others) {
        if (word.find(other) != std::string::npos || other.find(word) != std::string::npos) return true;
    }
    return false;
}

std::string numbered_list(const std::vector<std::string>& words) {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i > 0) out.push_back('\n');
        out += fmt::format("{}. {}", i + 1, words[i]);
    }
    return out;
}

// Every word of `common` `common_copies` times and of rare[0..n_rare)
// `rare_copies` times, shuffled by a generator seeded with `seed`.
std::vector<std::string> word_multiset(const std::vector<std::string>& common, int common_copies,
                                       const std::vector<std::string>& rare, size_t n_rare, int rare_copies,
                                       uint64_t seed) {
    std::vector<std::string> entries;
    for (const std::string& word : common) entries.insert(entries.end(), static_cast<size_t>(common_copies), word);
    for (size_t i = 0; i < n_rare; ++i) entries.insert(entries.end(), static_cast<size_t>(rare_copies), rare[i]);
    SampleRandom random(seed);
    random.shuffle(entries);
    return entries;
}

// Zipf counts: the word of rank k (from 1) appears floor(n / (zeta(2) k^2))
// times, zeta(2) = pi^2 / 6, so the counts add up to at most n.
int64_t zipf_count(int64_t n, int64_t rank) {
    constexpr double zeta2 = std::numbers::pi * std::numbers::pi / 6.0;
    return static_cast<int64_t>(std::floor(static_cast<double>(n) / (zeta2 * static_cast<double>(rank * rank))));
}

// Smallest n whose top kFrequentAnswers + 2 counts are all different, so that
// the dots and the answer words are unambiguous.
int64_t min_zipf_total() {
    for (int64_t n = 1;; ++n) {
        bool strict = true;
        for (int64_t rank = 1; rank <= kFrequentAnswers + 1; ++rank) {
            if (zipf_count(n, rank) <= zipf_count(n, rank + 1)) strict = false;
        }
        if (strict) return n;
    }
}

// Distinct coded words drawn one at a time, so that the first k are the same
// however many the sizer requests.
class CodedWords {
public:
    explicit CodedWords(uint64_t seed) : random_(seed) {}

    const std::vector<std::string>& first(size_t k) {
        while (words_.size() < k) {
            std::string word;
            for (int i = 0; i < kCodedWordLength; ++i) word.push_back(static_cast<char>('a' + random_.below(26)));
            if (seen_.insert(word).second) words_.push_back(std::move(word));
        }
        return words_;
    }

private:
    SampleRandom random_;
    std::set<std::string> seen_;
    std::vector<std::string> words_;
};

}  // namespace

Sample build_common_words_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    const WordLists& lists = data.words();
    SampleRandom random(sample_seed(request.seed, request.task, request.index, request.target_tokens));

    std::vector<std::string> vocabulary = lists.adjectives;
    vocabulary.insert(vocabulary.end(), lists.nouns.begin(), lists.nouns.end());
    vocabulary.insert(vocabulary.end(), lists.verbs.begin(), lists.verbs.end());
    random.shuffle(vocabulary);

    // Words are taken in shuffled order. No rare word may contain a common
    // word or sit inside one, because substring scoring would then credit it.
    std::vector<std::string> example_common;
    std::vector<std::string> example_rare;
    std::vector<std::string> common;
    std::vector<std::string> rare;
    for (const std::string& word : vocabulary) {
        if (static_cast<int>(common.size()) < kCommonWords) {
            if (!overlaps_any(word, common)) common.push_back(word);
        } else if (static_cast<int>(example_common.size()) < kCommonWords) {
            example_common.push_back(word);
        } else if (static_cast<int>(example_rare.size()) < kExampleRareWords) {
            example_rare.push_back(word);
        } else if (!overlaps_any(word, common)) {
            rare.push_back(word);
        }
    }
    if (static_cast<int64_t>(rare.size()) < kMinRareWords) {
        throw std::runtime_error(fmt::format("the word lists have only {} usable words; cwe needs at least {}",
                                             vocabulary.size(), 2 * kCommonWords + kExampleRareWords + kMinRareWords));
    }

    const bool long_list = request.target_tokens >= kLongListTokens;
    const int common_copies = long_list ? 30 : 6;
    const int rare_copies = long_list ? 3 : 1;
    const uint64_t example_seed = random.child_seed();
    const uint64_t list_seed = random.child_seed();

    const std::string example = numbered_list(word_multiset(example_common, kExampleRepeats, example_rare,
                                                            example_rare.size(), 1, example_seed));
    const std::string instructions = fmt::format(
        "Below is a numbered list of words. A few words appear many times and the others only a few times. "
        "Count how often each word appears, because a question will ask for the {0} most common words.\n\n"
        "An example list:\n{1}\nIn this example, the {0} most common words are: {2}.\n\n"
        "The list for the question:\n",
        kCommonWords, example, join(example_common, ", "));

    Sample header = make_sample_header(request, "string_match_all", kCommonWordsAnswerTokens);
    header.question = fmt::format("\n\nQuestion: Which {} words appear most often in the list above?", kCommonWords);
    header.answer_prefix = fmt::format("Answer: The {} most common words in the list are:", kCommonWords);
    header.references = common;

    auto build = [&](int64_t n_rare) {
        Sample sample = header;
        sample.context = instructions + numbered_list(word_multiset(common, common_copies, rare,
                                                                    static_cast<size_t>(n_rare), rare_copies,
                                                                    list_seed));
        return sample;
    };
    const SampleSizer::Fit fit = sizer.fit(build, kMinRareWords, static_cast<int64_t>(rare.size()));
    return fit.sample;
}

Sample build_frequent_words_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    SampleRandom random(sample_seed(request.seed, request.task, request.index, request.target_tokens));
    CodedWords coded(random.child_seed());
    const uint64_t order_seed = random.child_seed();

    const std::string instructions =
        "The text below is made of coded words, which are random strings of six letters, and of runs of dots "
        "(......) that are only filler. Count how often each coded word appears, because a question will ask for "
        "the three most frequent ones. Do not count the dots.\n\n";

    Sample header = make_sample_header(request, "string_match_all", kFrequentWordsAnswerTokens);
    header.question = "\n\nQuestion: Which three coded words appear most often in the text above, not counting the dots?";
    header.answer_prefix = "Answer: The three most frequent coded words in the text above are:";

    // n is the Zipf total. Rank 1 is the dots, and ranks 2 to 4 are the answer.
    auto build = [&](int64_t n) {
        int64_t n_ranks = 0;
        while (zipf_count(n, n_ranks + 1) > 0) ++n_ranks;
        const std::vector<std::string>& words = coded.first(static_cast<size_t>(n_ranks));

        std::vector<std::string> tokens;
        for (int64_t rank = 1; rank <= n_ranks; ++rank) {
            const std::string& word = rank == 1 ? std::string(kDots) : words[static_cast<size_t>(rank - 1)];
            tokens.insert(tokens.end(), static_cast<size_t>(zipf_count(n, rank)), word);
        }
        SampleRandom order(order_seed);
        order.shuffle(tokens);

        Sample sample = header;
        sample.context = instructions + join(tokens, " ");
        sample.references.assign(words.begin() + 1, words.begin() + 1 + kFrequentAnswers);
        return sample;
    };
    return sizer.fit(build, min_zipf_total(), kMaxCodedTokens).sample;
}

}  // namespace compactor::eval
