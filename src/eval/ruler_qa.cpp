// qa_1 (SQuAD) and qa_2 (HotpotQA): the paragraphs that answer the question,
// each at a random depth, among distractor paragraphs, all labelled
// "Document i". Any reference answer found in the prediction scores 1.
#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "eval/ruler_layout.h"
#include "eval/ruler_random.h"
#include "eval/ruler_tasks.h"

namespace compactor::eval {

namespace {

// Distractors tried one by one after the largest prefix of the pool that
// fits. One paragraph is a coarse step (a SQuAD paragraph is about 190
// tokens), and these tries fill the rest of the target.
constexpr size_t kFillAttempts = 24;

const char* kInstructions =
    "Read the documents below. A question about them follows, and its answer is a short phrase from the "
    "documents. Answer with that phrase only, without other words.\n\n";

// Every document costs at least this many tokens (its "Document i:" label
// and the blank line before it), so a pool longer than target_tokens /
// kMinDocumentTokens can never be used up.
constexpr int64_t kMinDocumentTokens = 4;

size_t pool_limit(const TaskRequest& request) {
    return static_cast<size_t>(request.target_tokens / kMinDocumentTokens) + 1;
}

// Index of the question of sample `index` in a fixed shuffle of all questions
// per (seed, task). Indices below the number of questions never share a
// question, and one index has the same question at every target length.
size_t question_for_index(const TaskRequest& request, size_t n_questions) {
    std::vector<size_t> order(n_questions);
    for (size_t i = 0; i < n_questions; ++i) order[i] = i;
    SampleRandom random(sample_seed(request.seed, request.task + "/questions", 0, 0));
    random.shuffle(order);
    return order[static_cast<size_t>(request.index) % n_questions];
}

std::string format_documents(const std::vector<std::string>& documents) {
    std::vector<std::string> labelled;
    for (size_t i = 0; i < documents.size(); ++i) labelled.push_back(fmt::format("Document {}:\n{}", i + 1, documents[i]));
    return join(labelled, "\n\n");
}

// Gold documents at stratified random depths: each gets an equal slice of
// the document list and a random depth inside it.
std::vector<Placement> place_gold(SampleRandom& random, const std::vector<std::string>& gold) {
    std::vector<Placement> placements;
    for (size_t j = 0; j < gold.size(); ++j) {
        const double depth = (static_cast<double>(j) + random.unit()) / static_cast<double>(gold.size());
        placements.push_back({depth, gold[j]});
    }
    return placements;
}

// Sizes a QA sample over a pool of distractor documents: the largest pool
// prefix that fits, then single later distractors while they fit.
Sample fit_documents(const SampleSizer& sizer, const Sample& header, const std::vector<Placement>& gold,
                     const std::vector<std::string>& pool, const std::function<int64_t()>& extra_for_other_samples) {
    auto build_from = [&](const std::vector<size_t>& chosen) {
        std::vector<std::string> distractors;
        for (const size_t i : chosen) distractors.push_back(pool[i]);
        Sample sample = header;
        sample.context = kInstructions + format_documents(place_at_depths(distractors, gold));
        return sample;
    };
    auto build_prefix = [&](int64_t n) {
        std::vector<size_t> chosen(static_cast<size_t>(n));
        for (size_t i = 0; i < chosen.size(); ++i) chosen[i] = i;
        return build_from(chosen);
    };

    SampleSizer::Fit fit = sizer.fit(build_prefix, 0, static_cast<int64_t>(pool.size()), extra_for_other_samples);
    std::vector<size_t> chosen(static_cast<size_t>(fit.size));
    for (size_t i = 0; i < chosen.size(); ++i) chosen[i] = i;

    // A distractor whose own token count exceeds the room left cannot fit.
    // The others are checked on the whole prompt, because labels and joins
    // add a few tokens.
    const size_t end = std::min(pool.size(), chosen.size() + kFillAttempts);
    for (size_t i = chosen.size(); i < end; ++i) {
        const int64_t room = sizer.target_tokens() - fit.length;
        if (sizer.count_tokens(pool[i]) > room) continue;

        std::vector<size_t> candidate = chosen;
        candidate.push_back(i);
        Sample sample = build_from(candidate);
        const int64_t length = sizer.length(sample);
        if (length > sizer.target_tokens()) continue;
        chosen = std::move(candidate);
        fit = SampleSizer::Fit{std::move(sample), static_cast<int64_t>(chosen.size()), length};
    }
    return fit.sample;
}

}  // namespace

Sample build_squad_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    const SquadSet& squad = data.squad();
    const SquadQuestion& question = squad.questions[question_for_index(request, squad.questions.size())];
    SampleRandom random(sample_seed(request.seed, request.task, request.index, request.target_tokens));

    const std::vector<Placement> gold = place_gold(random, {squad.paragraphs[question.paragraph]});
    const std::string& gold_text = squad.paragraphs[question.paragraph];
    std::vector<size_t> order;
    for (size_t i = 0; i < squad.paragraphs.size(); ++i) {
        if (squad.paragraphs[i] != gold_text) order.push_back(i);
    }
    random.shuffle(order);

    std::vector<std::string> pool;
    for (const size_t i : order) {
        if (pool.size() == pool_limit(request)) break;
        pool.push_back(squad.paragraphs[i]);
    }

    Sample header = make_sample_header(request, "string_match_any", kQaAnswerTokens);
    header.question = "\n\nQuestion: " + question.question;
    header.answer_prefix = "Answer:";
    header.references = question.answers;

    // Only for the error of a too small target: the longest gold paragraph.
    auto extra_for_other_samples = [&] {
        int64_t longest = 0;
        std::vector<bool> seen(squad.paragraphs.size(), false);
        for (const SquadQuestion& other : squad.questions) {
            if (seen[other.paragraph]) continue;
            seen[other.paragraph] = true;
            longest = std::max(longest, sizer.count_tokens(squad.paragraphs[other.paragraph]));
        }
        return longest - sizer.count_tokens(gold_text);
    };
    return fit_documents(sizer, header, gold, pool, extra_for_other_samples);
}

Sample build_hotpot_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    const std::vector<HotpotExample>& examples = data.hotpot();
    std::vector<size_t> complete;
    for (size_t e = 0; e < examples.size(); ++e) {
        if (examples[e].complete) complete.push_back(e);
    }
    const size_t asked = complete[question_for_index(request, complete.size())];
    const HotpotExample& example = examples[asked];
    SampleRandom random(sample_seed(request.seed, request.task, request.index, request.target_tokens));

    auto document = [](const HotpotParagraph& paragraph) { return paragraph.title + "\n" + paragraph.text; };

    // The supporting paragraphs always go in. The example's own other
    // paragraphs are the first distractors, followed by paragraphs of other
    // examples whose titles are not in the sample yet.
    std::vector<std::string> gold_documents;
    std::vector<std::string> own_distractors;
    std::set<std::string> titles;
    for (size_t i = 0; i < example.paragraphs.size(); ++i) {
        const HotpotParagraph& paragraph = example.paragraphs[i];
        titles.insert(paragraph.title);
        const bool supporting =
            std::find(example.supporting.begin(), example.supporting.end(), i) != example.supporting.end();
        (supporting ? gold_documents : own_distractors).push_back(document(paragraph));
    }
    const std::vector<Placement> gold = place_gold(random, gold_documents);
    random.shuffle(own_distractors);

    std::vector<const HotpotParagraph*> others;
    for (size_t e = 0; e < examples.size(); ++e) {
        if (e == asked) continue;
        for (const HotpotParagraph& paragraph : examples[e].paragraphs) others.push_back(&paragraph);
    }
    random.shuffle(others);

    std::vector<std::string> pool = own_distractors;
    for (const HotpotParagraph* paragraph : others) {
        if (pool.size() == pool_limit(request)) break;
        if (titles.insert(paragraph->title).second) pool.push_back(document(*paragraph));
    }

    Sample header = make_sample_header(request, "string_match_any", kQaAnswerTokens);
    header.question = "\n\nQuestion: " + example.question;
    header.answer_prefix = "Answer:";
    header.references = {example.answer};

    // Only for the error of a too small target: the longest set of supporting
    // paragraphs.
    auto supporting_tokens = [&](const HotpotExample& other) {
        int64_t tokens = 0;
        for (const size_t i : other.supporting) tokens += sizer.count_tokens(document(other.paragraphs[i]));
        return tokens;
    };
    auto extra_for_other_samples = [&] {
        int64_t longest = 0;
        for (const size_t e : complete) longest = std::max(longest, supporting_tokens(examples[e]));
        return longest - supporting_tokens(example);
    };
    return fit_documents(sizer, header, gold, pool, extra_for_other_samples);
}

}  // namespace compactor::eval
