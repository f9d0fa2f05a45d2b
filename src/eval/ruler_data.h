// The data files of the RULER-style tasks, read once on first use: word
// lists, essay sentences, SQuAD and HotpotQA. Every accessor is safe to call
// from several threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace compactor::eval {

struct WordLists {
    std::vector<std::string> adjectives;
    std::vector<std::string> nouns;
    std::vector<std::string> verbs;
    bool builtin = false;  // true when no data folder was given
};

struct SquadQuestion {
    std::string question;
    std::vector<std::string> answers;  // distinct answer texts, in file order
    size_t paragraph = 0;              // index into SquadSet::paragraphs
};

struct SquadSet {
    std::vector<std::string> paragraphs;
    std::vector<SquadQuestion> questions;  // answerable questions only
};

struct HotpotParagraph {
    std::string title;
    std::string text;  // the paragraph's sentences joined
};

struct HotpotExample {
    std::string question;
    std::string answer;
    std::vector<HotpotParagraph> paragraphs;
    std::vector<size_t> supporting;  // indices of the paragraphs that supporting_facts names
    // Every paragraph that supporting_facts names is in `paragraphs`. In the
    // 500-example file most examples lack one or both, so only complete ones
    // are asked. The others still give distractor paragraphs.
    bool complete = false;
};

class RulerData {
public:
    // An empty data_dir means built-in words only, and the accessors of file
    // data then throw std::invalid_argument.
    explicit RulerData(std::string data_dir);
    ~RulerData();

    const std::string& data_dir() const;

    // Lowercase single words from ruler/wonderwords/{adjectivelist,nounlist,
    // verblist}.txt, or the built-in lists when there is no data folder.
    const WordLists& words() const;

    // Sentences of the public-domain prose in haystack/ (the Gutenberg and
    // Canterbury prose files), in a fixed file order.
    const std::vector<std::string>& essay_sentences() const;

    // qa/squad_v2_dev_first_half.json.
    const SquadSet& squad() const;

    // qa/hotpotqa_dev_distractor_500.jsonl, with at least one complete
    // example.
    const std::vector<HotpotExample>& hotpot() const;

    // Throws std::invalid_argument naming `relative_path` and --data-dir when
    // there is no data folder or the file is missing from it.
    std::string require_file(const std::string& relative_path) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace compactor::eval
