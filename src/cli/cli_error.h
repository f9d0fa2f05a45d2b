// An error whose message the command-line user reads unchanged. It states what
// failed, on which value, and what to do next.
#pragma once

#include <stdexcept>

namespace compactor::cli {

class CliError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace compactor::cli
