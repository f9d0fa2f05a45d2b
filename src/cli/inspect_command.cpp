#include "cli/inspect_command.h"

#include <filesystem>

#include <fmt/format.h>

#include "cli/cli_error.h"
#include "gguf/gguf_file.h"
#include "gguf/inspect.h"

namespace compactor::cli {

int inspect_command(const std::string& model_path) {
    if (std::error_code error; !std::filesystem::is_regular_file(model_path, error)) {
        throw CliError(fmt::format("model file not found: {} (pass the path of a .gguf file)", model_path));
    }
    const std::unique_ptr<gguf::GgufFile> file = gguf::GgufFile::open(model_path);
    fmt::print("{}", gguf::inspect_report(*file));
    return 0;
}

}  // namespace compactor::cli
