#include "eval/sample.h"

#include <stdexcept>

namespace compactor::eval {

nlohmann::json to_json(const Sample& sample) {
    return nlohmann::json{
        {"id", sample.id},
        {"suite", sample.suite},
        {"task", sample.task},
        {"seed", sample.seed},
        {"index", sample.index},
        {"target_tokens", sample.target_tokens},
        {"context", sample.context},
        {"question", sample.question},
        {"answer_prefix", sample.answer_prefix},
        {"references", sample.references},
        {"all_classes", sample.all_classes},
        {"metric", sample.metric},
        {"first_line_only", sample.first_line_only},
        {"template_name", sample.template_name},
        {"max_new_tokens", sample.max_new_tokens},
    };
}

namespace {

const nlohmann::json* find_field(const nlohmann::json& json, const char* name, bool required) {
    const auto it = json.find(name);
    if (it == json.end()) {
        if (required) throw std::invalid_argument(std::string("sample: missing field '") + name + "'");
        return nullptr;
    }
    return &*it;
}

[[noreturn]] void reject_type(const char* name, const char* expected, const nlohmann::json& value) {
    throw std::invalid_argument(std::string("sample: field '") + name + "' must be " + expected + ", got " +
                                value.type_name());
}

void read_string(const nlohmann::json& json, const char* name, bool required, std::string& out) {
    const nlohmann::json* value = find_field(json, name, required);
    if (value == nullptr) return;
    if (!value->is_string()) reject_type(name, "a string", *value);
    out = value->get<std::string>();
}

void read_strings(const nlohmann::json& json, const char* name, bool required, std::vector<std::string>& out) {
    const nlohmann::json* value = find_field(json, name, required);
    if (value == nullptr) return;
    if (!value->is_array()) reject_type(name, "an array of strings", *value);

    out.clear();
    for (size_t i = 0; i < value->size(); ++i) {
        const nlohmann::json& item = (*value)[i];
        if (!item.is_string()) {
            throw std::invalid_argument(std::string("sample: field '") + name + "' item " + std::to_string(i) +
                                        " must be a string, got " + item.type_name());
        }
        out.push_back(item.get<std::string>());
    }
}

void read_int(const nlohmann::json& json, const char* name, bool required, int64_t& out) {
    const nlohmann::json* value = find_field(json, name, required);
    if (value == nullptr) return;
    if (!value->is_number_integer()) reject_type(name, "an integer", *value);
    if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        throw std::invalid_argument(std::string("sample: field '") + name + "' is out of range: " + value->dump());
    }
    out = value->get<int64_t>();
}

void read_seed(const nlohmann::json& json, const char* name, uint64_t& out) {
    const nlohmann::json* value = find_field(json, name, /*required=*/false);
    if (value == nullptr) return;
    if (!value->is_number_integer() || (!value->is_number_unsigned() && value->get<int64_t>() < 0)) {
        reject_type(name, "a non-negative integer", *value);
    }
    out = value->get<uint64_t>();
}

void read_bool(const nlohmann::json& json, const char* name, bool& out) {
    const nlohmann::json* value = find_field(json, name, /*required=*/false);
    if (value == nullptr) return;
    if (!value->is_boolean()) reject_type(name, "true or false", *value);
    out = value->get<bool>();
}

}  // namespace

Sample sample_from_json(const nlohmann::json& json) {
    if (!json.is_object()) {
        throw std::invalid_argument(std::string("sample: expected a JSON object, got ") + json.type_name());
    }

    // Required: what identifies the sample, its prompt and how to score it.
    // The rest has the defaults of Sample.
    Sample sample;
    read_string(json, "id", true, sample.id);
    read_string(json, "suite", true, sample.suite);
    read_string(json, "task", true, sample.task);
    read_string(json, "context", true, sample.context);
    read_string(json, "question", true, sample.question);
    read_strings(json, "references", true, sample.references);
    read_string(json, "metric", true, sample.metric);
    read_int(json, "max_new_tokens", true, sample.max_new_tokens);

    read_seed(json, "seed", sample.seed);
    read_int(json, "index", false, sample.index);
    read_int(json, "target_tokens", false, sample.target_tokens);
    read_string(json, "answer_prefix", false, sample.answer_prefix);
    read_strings(json, "all_classes", false, sample.all_classes);
    read_bool(json, "first_line_only", sample.first_line_only);
    read_string(json, "template_name", false, sample.template_name);

    if (sample.max_new_tokens <= 0) {
        throw std::invalid_argument("sample: field 'max_new_tokens' must be positive, got " +
                                    std::to_string(sample.max_new_tokens));
    }
    return sample;
}

}  // namespace compactor::eval
