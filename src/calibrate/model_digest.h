// SHA-256 of a model file: a calibration fits one model's outputs, so its
// file records the digest and run time compares it.
#pragma once

#include <string>

namespace compactor::calibrate {

// Lowercase hex SHA-256 of the file's bytes (about 0.3 s for 100 MiB).
// Throws std::runtime_error naming the path when it cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace compactor::calibrate
