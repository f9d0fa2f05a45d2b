#include "eval/metrics_rouge.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "eval/metrics_text.h"

namespace compactor::eval {

namespace {

// Words as integer ids, so the LCS table compares integers.
class WordIds {
public:
    std::vector<int32_t> ids(const std::string& sentence) {
        std::vector<int32_t> out;
        for (std::string_view word : split_on(sentence, ' ')) {
            auto [it, inserted] = ids_.try_emplace(std::string(word), static_cast<int32_t>(ids_.size()));
            out.push_back(it->second);
        }
        return out;
    }

private:
    std::unordered_map<std::string, int32_t> ids_;
};

// Add the words of one longest common subsequence of `reference` and
// `prediction`, picked as the package picks it. The walk back from the end
// takes a match when the last words are equal. Otherwise it drops the last
// reference word when that keeps a strictly longer LCS, else the last
// prediction word.
void add_lcs_words(const std::vector<int32_t>& reference, const std::vector<int32_t>& prediction,
                   std::unordered_set<int32_t>& words) {
    const size_t n_ref = reference.size();
    const size_t n_pred = prediction.size();
    const size_t width = n_pred + 1;
    std::vector<int32_t> table((n_ref + 1) * width, 0);
    for (size_t i = 1; i <= n_ref; ++i) {
        for (size_t j = 1; j <= n_pred; ++j) {
            if (reference[i - 1] == prediction[j - 1]) {
                table[i * width + j] = table[(i - 1) * width + j - 1] + 1;
            } else {
                table[i * width + j] = std::max(table[(i - 1) * width + j], table[i * width + j - 1]);
            }
        }
    }

    // NOTE: the package walks back recursively, so in Python a sentence pair
    // of more than about 990 words in total raises RecursionError and LongBench
    // scores the whole sample 0; this walk has no such limit.
    size_t i = n_ref;
    size_t j = n_pred;
    while (i > 0 && j > 0) {
        if (reference[i - 1] == prediction[j - 1]) {
            words.insert(reference[i - 1]);
            --i;
            --j;
        } else if (table[(i - 1) * width + j] > table[i * width + j - 1]) {
            --i;
        } else {
            --j;
        }
    }
}

}  // namespace

std::vector<std::string> rouge_sentences(std::string_view text) {
    std::vector<std::string> sentences;
    for (std::string_view piece : split_on(text, '.')) {
        if (piece.empty()) continue;
        std::string sentence;
        for (const std::string& word : split_whitespace(piece)) {
            if (!sentence.empty()) sentence.push_back(' ');
            sentence += word;
        }
        sentences.push_back(std::move(sentence));
    }
    return sentences;
}

double rouge_l_score(std::string_view prediction, std::string_view reference) {
    const std::vector<std::string> prediction_sentences = rouge_sentences(prediction);
    const std::vector<std::string> reference_sentences = rouge_sentences(reference);
    if (prediction_sentences.empty() || reference_sentences.empty()) return 0.0;

    WordIds word_ids;
    std::vector<std::vector<int32_t>> prediction_words;
    std::vector<std::vector<int32_t>> reference_words;
    std::unordered_set<int32_t> prediction_vocabulary;
    std::unordered_set<int32_t> reference_vocabulary;
    for (const std::string& sentence : prediction_sentences) {
        prediction_words.push_back(word_ids.ids(sentence));
        prediction_vocabulary.insert(prediction_words.back().begin(), prediction_words.back().end());
    }
    for (const std::string& sentence : reference_sentences) {
        reference_words.push_back(word_ids.ids(sentence));
        reference_vocabulary.insert(reference_words.back().begin(), reference_words.back().end());
    }

    std::unordered_set<int32_t> lcs_union;
    for (const std::vector<int32_t>& reference_sentence : reference_words) {
        for (const std::vector<int32_t>& prediction_sentence : prediction_words) {
            add_lcs_words(reference_sentence, prediction_sentence, lcs_union);
        }
    }

    // Same operation order as the package, so the doubles agree bit for bit.
    const auto n_union = static_cast<double>(lcs_union.size());
    const double recall = n_union / static_cast<double>(reference_vocabulary.size());
    const double precision = n_union / static_cast<double>(prediction_vocabulary.size());
    return 2.0 * ((precision * recall) / (precision + recall + 1e-8));
}

}  // namespace compactor::eval
