#include "eval/eval_list.h"

#include "tokenizer/trim.h"

namespace compactor::eval {

std::vector<std::string> split_comma_list(std::string_view list) {
    std::vector<std::string> items;
    size_t start = 0;
    while (true) {
        const size_t comma = list.find(',', start);
        const std::string_view item = list.substr(start, comma == std::string_view::npos ? comma : comma - start);
        items.emplace_back(trim_whitespace(item));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return items;
}

}  // namespace compactor::eval
