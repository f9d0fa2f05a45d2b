#include "eval/ruler_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "eval/ruler_builtin.h"
#include "eval/ruler_essay.h"

namespace compactor::eval {

namespace {

// Maximum essay sentence length in words. Longer sentences are cut, so one
// sentence (an estimated 80 tokens at most) stays a fine step for sizing.
constexpr size_t kMaxSentenceWords = 60;

const char* kAdjectivesFile = "ruler/wonderwords/adjectivelist.txt";
const char* kNounsFile = "ruler/wonderwords/nounlist.txt";
const char* kVerbsFile = "ruler/wonderwords/verblist.txt";
const char* kSquadFile = "qa/squad_v2_dev_first_half.json";
const char* kHotpotFile = "qa/hotpotqa_dev_distractor_500.jsonl";

struct EssayFile {
    const char* path;
    bool gutenberg;  // text outside the START/END markers is licence and catalogue text
};

const std::vector<EssayFile>& essay_files() {
    static const std::vector<EssayFile> files = {
        {"haystack/gutenberg/pg3261_morris_news_from_nowhere.txt", true},
        {"haystack/gutenberg/pg972_bierce_devils_dictionary.txt", true},
        {"haystack/gutenberg/pg16215_ainsworth_jack_sheppard.txt", true},
        {"haystack/gutenberg/pg14263_lane_katrine.txt", true},
        {"haystack/canterbury/alice29.txt", false},
        {"haystack/canterbury/lcet10.txt", false},
        {"haystack/canterbury/plrabn12.txt", false},
    };
    return files;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

bool is_plain_word(const std::string& word) {
    return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// One word per line; entries with capitals, spaces or punctuation are left
// out so that keys and word lists read as plain lowercase words.
std::vector<std::string> read_word_list(const std::string& path) {
    std::istringstream lines(normalize_newlines(read_text(path)));
    std::vector<std::string> words;
    std::set<std::string> seen;
    std::string line;
    while (std::getline(lines, line)) {
        if (is_plain_word(line) && seen.insert(line).second) words.push_back(line);
    }
    if (words.empty()) throw std::runtime_error("no lowercase words in " + path);
    return words;
}

const nlohmann::json& field(const nlohmann::json& object, const char* name, const std::string& where) {
    if (!object.is_object() || !object.contains(name)) {
        throw std::runtime_error(where + ": missing field '" + name + "'");
    }
    return object.at(name);
}

std::string string_field(const nlohmann::json& object, const char* name, const std::string& where) {
    const nlohmann::json& value = field(object, name, where);
    if (!value.is_string()) throw std::runtime_error(where + ": field '" + name + "' is not a string");
    return value.get<std::string>();
}

const nlohmann::json& array_field(const nlohmann::json& object, const char* name, const std::string& where) {
    const nlohmann::json& value = field(object, name, where);
    if (!value.is_array()) throw std::runtime_error(where + ": field '" + name + "' is not an array");
    return value;
}

SquadSet parse_squad(const std::string& path) {
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(read_text(path));
    } catch (const nlohmann::json::parse_error& error) {
        throw std::runtime_error(path + ": invalid JSON: " + error.what());
    }

    SquadSet set;
    for (const nlohmann::json& article : array_field(root, "data", path)) {
        for (const nlohmann::json& paragraph : array_field(article, "paragraphs", path)) {
            const size_t paragraph_index = set.paragraphs.size();
            set.paragraphs.push_back(string_field(paragraph, "context", path));

            for (const nlohmann::json& qa : array_field(paragraph, "qas", path)) {
                if (qa.value("is_impossible", false)) continue;
                SquadQuestion question;
                question.question = string_field(qa, "question", path);
                question.paragraph = paragraph_index;
                for (const nlohmann::json& answer : array_field(qa, "answers", path)) {
                    std::string text = string_field(answer, "text", path);
                    if (std::find(question.answers.begin(), question.answers.end(), text) == question.answers.end()) {
                        question.answers.push_back(std::move(text));
                    }
                }
                if (!question.answers.empty()) set.questions.push_back(std::move(question));
            }
        }
    }
    if (set.questions.empty()) throw std::runtime_error(path + ": no answerable questions");
    return set;
}

HotpotExample parse_hotpot_example(const nlohmann::json& object, const std::string& where) {
    HotpotExample example;
    example.question = string_field(object, "question", where);
    example.answer = string_field(object, "answer", where);

    for (const nlohmann::json& entry : array_field(object, "context", where)) {
        if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_array()) {
            throw std::runtime_error(where + ": a context entry is not [title, [sentences]]");
        }
        HotpotParagraph paragraph;
        paragraph.title = entry[0].get<std::string>();
        for (const nlohmann::json& sentence : entry[1]) {
            if (!sentence.is_string()) throw std::runtime_error(where + ": a context sentence is not a string");
            paragraph.text += sentence.get<std::string>();
        }
        example.paragraphs.push_back(std::move(paragraph));
    }

    std::set<std::string> supporting_titles;
    for (const nlohmann::json& fact : array_field(object, "supporting_facts", where)) {
        if (!fact.is_array() || fact.empty() || !fact[0].is_string()) {
            throw std::runtime_error(where + ": a supporting fact is not [title, sentence index]");
        }
        supporting_titles.insert(fact[0].get<std::string>());
    }
    std::set<std::string> found_titles;
    for (size_t i = 0; i < example.paragraphs.size(); ++i) {
        if (supporting_titles.count(example.paragraphs[i].title)) {
            example.supporting.push_back(i);
            found_titles.insert(example.paragraphs[i].title);
        }
    }
    example.complete = !supporting_titles.empty() && found_titles == supporting_titles;
    return example;
}

std::vector<HotpotExample> parse_hotpot(const std::string& path) {
    std::istringstream lines(read_text(path));
    std::vector<HotpotExample> examples;
    std::string line;
    int64_t line_number = 0;
    while (std::getline(lines, line)) {
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;

        const std::string where = path + " line " + std::to_string(line_number);
        nlohmann::json object;
        try {
            object = nlohmann::json::parse(line);
        } catch (const nlohmann::json::parse_error& error) {
            throw std::runtime_error(where + ": invalid JSON: " + error.what());
        }
        examples.push_back(parse_hotpot_example(object, where));
    }
    const auto n_complete = std::count_if(examples.begin(), examples.end(),
                                          [](const HotpotExample& example) { return example.complete; });
    if (n_complete == 0 || examples.size() < 2) {
        throw std::runtime_error(path + ": needs two or more examples, one of them with every supporting paragraph");
    }
    return examples;
}

}  // namespace

struct RulerData::Impl {
    std::string data_dir;

    mutable std::once_flag words_once;
    mutable WordLists words;
    mutable std::once_flag essay_once;
    mutable std::vector<std::string> essay;
    mutable std::once_flag squad_once;
    mutable SquadSet squad;
    mutable std::once_flag hotpot_once;
    mutable std::vector<HotpotExample> hotpot;
};

RulerData::RulerData(std::string data_dir) : impl_(std::make_unique<Impl>()) {
    impl_->data_dir = std::move(data_dir);
}

RulerData::~RulerData() = default;

const std::string& RulerData::data_dir() const {
    return impl_->data_dir;
}

std::string RulerData::require_file(const std::string& relative_path) const {
    if (impl_->data_dir.empty()) {
        throw std::invalid_argument("needs the data file " + relative_path +
                                    "; pass --data-dir with the evaluation data folder that contains it");
    }
    const std::filesystem::path path = std::filesystem::path(impl_->data_dir) / relative_path;
    if (!std::filesystem::is_regular_file(path)) {
        throw std::invalid_argument("data file not found: " + path.string() +
                                    "; check that --data-dir names the evaluation data folder");
    }
    return path.string();
}

const WordLists& RulerData::words() const {
    std::call_once(impl_->words_once, [this] {
        WordLists lists;
        if (impl_->data_dir.empty()) {
            lists.adjectives = builtin_adjectives();
            lists.nouns = builtin_nouns();
            lists.verbs = builtin_verbs();
            lists.builtin = true;
        } else {
            lists.adjectives = read_word_list(require_file(kAdjectivesFile));
            lists.nouns = read_word_list(require_file(kNounsFile));
            lists.verbs = read_word_list(require_file(kVerbsFile));
            spdlog::info("ruler: read {} adjectives, {} nouns and {} verbs from {}/ruler/wonderwords",
                         lists.adjectives.size(), lists.nouns.size(), lists.verbs.size(), impl_->data_dir);
        }
        impl_->words = std::move(lists);
    });
    return impl_->words;
}

const std::vector<std::string>& RulerData::essay_sentences() const {
    std::call_once(impl_->essay_once, [this] {
        std::vector<std::string> paths;
        for (const EssayFile& file : essay_files()) paths.push_back(require_file(file.path));

        std::vector<std::string> sentences;
        for (size_t i = 0; i < paths.size(); ++i) {
            std::string text = normalize_newlines(read_text(paths[i]));
            if (essay_files()[i].gutenberg) {
                text = gutenberg_body(text);
                if (text.empty()) {
                    throw std::runtime_error(paths[i] + ": no '*** START OF' and '*** END OF' marker lines");
                }
            }
            std::vector<std::string> more = split_sentences(text, kMaxSentenceWords);
            sentences.insert(sentences.end(), std::make_move_iterator(more.begin()),
                             std::make_move_iterator(more.end()));
        }
        spdlog::info("ruler: read {} essay sentences from {} files in {}/haystack", sentences.size(), paths.size(),
                     impl_->data_dir);
        impl_->essay = std::move(sentences);
    });
    return impl_->essay;
}

const SquadSet& RulerData::squad() const {
    std::call_once(impl_->squad_once, [this] {
        const std::string path = require_file(kSquadFile);
        SquadSet set = parse_squad(path);
        spdlog::info("ruler: read {} SQuAD paragraphs and {} answerable questions from {}", set.paragraphs.size(),
                     set.questions.size(), path);
        impl_->squad = std::move(set);
    });
    return impl_->squad;
}

const std::vector<HotpotExample>& RulerData::hotpot() const {
    std::call_once(impl_->hotpot_once, [this] {
        const std::string path = require_file(kHotpotFile);
        std::vector<HotpotExample> examples = parse_hotpot(path);
        const auto n_complete = std::count_if(examples.begin(), examples.end(),
                                              [](const HotpotExample& example) { return example.complete; });
        spdlog::info("ruler: read {} HotpotQA examples from {}; {} have all their supporting paragraphs and "
                     "can be asked, the rest give distractors only",
                     examples.size(), path, n_complete);
        impl_->hotpot = std::move(examples);
    });
    return impl_->hotpot;
}

}  // namespace compactor::eval
