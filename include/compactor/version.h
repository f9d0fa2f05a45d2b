// The release version of compactor; keep it equal to project(VERSION) in CMakeLists.txt.
#pragma once

namespace compactor {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace compactor
