// vt: variable tracking. A chain of five assignments sits in order at random
// lines of the noise haystack. The first assigns a 5-digit number, and each
// next one copies the previous variable. The question gives the number, and
// the answer is every variable in the chain.
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

constexpr int kChainLength = 5;
constexpr int kNameLength = 5;
// Noise lines of the worked example that precedes the task.
constexpr int64_t kExampleLines = 3;
constexpr int64_t kMaxLines = int64_t{1} << 20;

struct Chain {
    std::vector<std::string> names;
    int64_t value = 0;
};

std::string draw_name(SampleRandom& random) {
    std::string name;
    for (int i = 0; i < kNameLength; ++i) name.push_back(static_cast<char>('A' + random.below(26)));
    return name;
}

Chain draw_chain(SampleRandom& random, std::set<std::string>& used_names, std::set<int64_t>& used_values) {
    Chain chain;
    while (static_cast<int>(chain.names.size()) < kChainLength) {
        std::string name = draw_name(random);
        if (used_names.insert(name).second) chain.names.push_back(std::move(name));
    }
    do {
        chain.value = random.between(10000, 99999);
    } while (!used_values.insert(chain.value).second);
    return chain;
}

std::vector<std::string> chain_statements(const Chain& chain) {
    std::vector<std::string> statements;
    statements.push_back(fmt::format("VAR {} = {}", chain.names[0], chain.value));
    for (size_t i = 1; i < chain.names.size(); ++i) {
        statements.push_back(fmt::format("VAR {} = VAR {}", chain.names[i], chain.names[i - 1]));
    }
    return statements;
}

// The statements at sorted random depths, so that they keep their order.
std::vector<Placement> place_chain(SampleRandom& random, const Chain& chain) {
    std::vector<double> depths;
    for (int i = 0; i < kChainLength; ++i) depths.push_back(random.unit());
    std::sort(depths.begin(), depths.end());

    const std::vector<std::string> statements = chain_statements(chain);
    std::vector<Placement> placements;
    for (size_t i = 0; i < statements.size(); ++i) placements.push_back({depths[i], statements[i]});
    return placements;
}

std::string question_for(int64_t value) {
    return fmt::format("Question: Which variables hold the value {}, directly or through other variables?", value);
}

std::string answer_prefix_for(int64_t value) {
    return fmt::format("Answer: The variables that hold the value {} are:", value);
}

std::string noise_text(int64_t n_lines, const std::vector<Placement>& placements) {
    const std::vector<std::string> lines(static_cast<size_t>(n_lines), noise_line());
    return join(place_at_depths(lines, placements), "\n");
}

}  // namespace

Sample build_variable_tracking_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    SampleRandom random(sample_seed(request.seed, request.task, request.index, request.target_tokens));

    std::set<std::string> used_names;
    std::set<int64_t> used_values;
    const Chain chain = draw_chain(random, used_names, used_values);
    const Chain example = draw_chain(random, used_names, used_values);
    const std::vector<Placement> chain_placements = place_chain(random, chain);
    const std::vector<Placement> example_placements = place_chain(random, example);

    const std::string example_text = noise_text(kExampleLines, example_placements) + "\n" +
                                     question_for(example.value) + "\n" + answer_prefix_for(example.value) + " " +
                                     join(example.names, " ");
    const std::string instructions =
        "The text below mixes filler lines with variable assignments of the form VAR NAME = value. Track every "
        "assignment, because a question will ask for all the variables that end up holding a given number.\n\n"
        "An example with its answer:\n\n" +
        example_text + "\n\nThe text for the question:\n\n";

    Sample header = make_sample_header(request, "string_match_all", kVariableAnswerTokens);
    header.question = "\n\n" + question_for(chain.value);
    header.answer_prefix = answer_prefix_for(chain.value);
    header.references = chain.names;

    auto build = [&](int64_t n_lines) {
        Sample sample = header;
        sample.context = instructions + noise_text(n_lines, chain_placements);
        return sample;
    };
    return sizer.fit(build, 1, kMaxLines).sample;
}

}  // namespace compactor::eval
