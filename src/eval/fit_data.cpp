#include "eval/fit_data.h"

#include <array>
#include <cctype>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/stopwatch.h"
#include "engine/teacher_force.h"
#include "eval/eval_prefill.h"

namespace compactor::eval {

namespace {

using nlohmann::json;

template <typename T>
T get_field(const json& object, const char* name) {
    const auto it = object.find(name);
    if (it == object.end()) throw std::invalid_argument(fmt::format("fit data line: missing field \"{}\"", name));
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        throw std::invalid_argument(fmt::format("fit data line: field \"{}\" has the wrong type ({})", name, it->dump()));
    }
}

}  // namespace

std::vector<int32_t> reference_answer_tokens(const Tokenizer& tokenizer, const Sample& sample) {
    if (sample.references.empty() || sample.references.front().empty()) {
        throw std::invalid_argument(fmt::format("sample {} has no reference answer to teacher-force", sample.id));
    }
    std::string answer = sample.references.front();
    if (sample.metric == "string_match_all") {
        for (size_t i = 1; i < sample.references.size(); ++i) answer += ", " + sample.references[i];
    }
    const bool after_word = !sample.answer_prefix.empty() &&
                            std::isspace(static_cast<unsigned char>(sample.answer_prefix.back())) == 0;
    return tokenizer.encode(after_word ? " " + answer : answer, /*parse_special=*/false);
}

SampleFitData measure_fit_sample(const Engine& engine, const Sample& sample, const FitDataOptions& options) {
    const Stopwatch sample_time;
    const SampleTokens tokens = encode_tokens(engine, sample, Protocol::agnostic);
    check_fits(sample, tokens, engine.config().n_ctx_train);
    const std::vector<int32_t> answer = reference_answer_tokens(engine.tokenizer(), sample);

    NextTokenNll nll{options.nll_stride, tokens.n_template};
    const std::set<std::string> methods(options.methods.begin(), options.methods.end());
    const Prefill prefill = prefill_and_score(engine, options.compression, options.prefill_chunk, tokens, methods, &nll);

    SampleFitData data;
    data.sample_id = sample.id;
    data.context_nll = nll.mean();
    data.n_nll_tokens = nll.n_scored;
    data.n_answer_tokens = static_cast<int64_t>(answer.size());

    // The full cache's answer NLL is the same for every method, so it is
    // measured once per sample.
    KvCache full_copy = prefill.cache;
    std::array<ForcedRequest, 1> full_request{ForcedRequest{&full_copy, tokens.answer_prompt, answer}};
    const double answer_nll_full = teacher_force_batch(engine.model(), full_request).front().mean();

    // Per method: one compressed copy per kept fraction, teacher-forced in one batch.
    for (const std::string& method : options.methods) {
        const MethodScores& scored = prefill.methods.at(method);
        std::vector<KvCache> caches;
        caches.reserve(options.kept_grid.size());
        std::vector<double> kept_measured;
        for (const double kept : options.kept_grid) {
            CompressionOptions point_options = options.compression;
            point_options.method = method;
            point_options.ratio = 1.0 - kept;
            CompressedCopy compressed = compressed_copy(prefill.cache, scored.scores, point_options);
            kept_measured.push_back(compressed.report.kept_fraction);
            caches.push_back(std::move(compressed.cache));
        }

        std::vector<ForcedRequest> requests;
        for (KvCache& cache : caches) requests.push_back({&cache, tokens.answer_prompt, answer});
        const std::vector<ForcedNll> forced = teacher_force_batch(engine.model(), requests);

        std::vector<calibrate::CalibrationPoint>& points = data.points[method];
        for (size_t i = 0; i < options.kept_grid.size(); ++i) {
            calibrate::CalibrationPoint point;
            point.sample_id = sample.id;
            point.task = sample.task;
            point.length = sample.target_tokens;
            point.kept_fraction = kept_measured[i];
            point.context_nll = data.context_nll;
            point.answer_nll_full = answer_nll_full;
            point.answer_nll_compressed = forced[i].mean();
            points.push_back(point);
        }
    }
    data.seconds = sample_time.elapsed_s();
    spdlog::debug("calibrate: sample {}: context NLL {:.4f} over {} tokens, {} answer tokens, {:.2f} s", sample.id,
                  data.context_nll, data.n_nll_tokens, data.n_answer_tokens, data.seconds);
    return data;
}

json to_json(const SampleFitData& data) {
    json points = json::object();
    for (const auto& [method, method_points] : data.points) {
        json list = json::array();
        for (const calibrate::CalibrationPoint& p : method_points) {
            list.push_back({{"kept_fraction", p.kept_fraction},
                            {"answer_nll_full", p.answer_nll_full},
                            {"answer_nll_compressed", p.answer_nll_compressed}});
        }
        points[method] = list;
    }
    return {{"sample_id", data.sample_id},       {"context_nll", data.context_nll},
            {"n_nll_tokens", data.n_nll_tokens}, {"n_answer_tokens", data.n_answer_tokens},
            {"seconds", data.seconds},           {"points", points}};
}

SampleFitData sample_fit_data_from_json(const json& j) {
    SampleFitData data;
    data.sample_id = get_field<std::string>(j, "sample_id");
    data.context_nll = get_field<double>(j, "context_nll");
    data.n_nll_tokens = get_field<int64_t>(j, "n_nll_tokens");
    data.n_answer_tokens = get_field<int64_t>(j, "n_answer_tokens");
    data.seconds = get_field<double>(j, "seconds");
    const json points = get_field<json>(j, "points");
    for (const auto& [method, list] : points.items()) {
        for (const json& p : list) {
            calibrate::CalibrationPoint point;
            point.sample_id = data.sample_id;
            point.kept_fraction = get_field<double>(p, "kept_fraction");
            point.context_nll = data.context_nll;
            point.answer_nll_full = get_field<double>(p, "answer_nll_full");
            point.answer_nll_compressed = get_field<double>(p, "answer_nll_compressed");
            data.points[method].push_back(point);
        }
    }
    return data;
}

}  // namespace compactor::eval
