// Serialization for the JSON files and reports the CLI writes.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace compactor {

// Serialize `value` with `indent` spaces per level (-1: one line). Invalid
// UTF-8 in strings (an answer cut at its token limit inside a character, a
// question or file path with Latin-1 bytes) is written as U+FFFD. The plain
// dump() would throw instead, after the work that produced the value is spent.
std::string json_text(const nlohmann::json& value, int indent = -1);

}  // namespace compactor
