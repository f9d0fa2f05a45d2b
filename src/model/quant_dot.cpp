// Kernel path selection, argument checks and dispatch for quant_dot.h; the
// kernels are in quant_dot_{scalar,avx2,avx512}.cpp.
#include "model/quant_dot.h"

#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "gguf/dequant.h"
#include "model/quant_dot_paths.h"

namespace compactor::quant {

namespace {

constexpr std::array<KernelPath, 3> kAllPaths = {KernelPath::scalar, KernelPath::avx2, KernelPath::avx512vnni};

// F16C converts the fp16 block scales; every CPU with AVX2 has it.
bool cpu_runs(KernelPath path) {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    switch (path) {
        case KernelPath::scalar: return true;
        case KernelPath::avx2: return avx2;
        case KernelPath::avx512vnni:
            return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    }
    return false;
}

struct SupportedPaths {
    std::array<KernelPath, kAllPaths.size()> paths{};
    size_t count = 0;
};

const SupportedPaths& supported() {
    static const SupportedPaths list = [] {
        SupportedPaths s;
        for (KernelPath path : kAllPaths) {
            if (cpu_runs(path)) s.paths[s.count++] = path;
        }
        return s;
    }();
    return list;
}

bool is_supported(KernelPath path) {
    for (KernelPath p : supported_kernel_paths()) {
        if (p == path) return true;
    }
    return false;
}

std::string join_names(std::span<const KernelPath> paths) {
    std::string names;
    for (KernelPath path : paths) {
        if (!names.empty()) names += ", ";
        names += kernel_path_name(path);
    }
    return names;
}

const detail::PathKernels& kernels_for(KernelPath path) {
    static const detail::PathKernels scalar = detail::scalar_kernels();
    static const detail::PathKernels avx2 = detail::avx2_kernels();
    static const detail::PathKernels avx512vnni = detail::avx512vnni_kernels();
    switch (path) {
        case KernelPath::avx2: return avx2;
        case KernelPath::avx512vnni: return avx512vnni;
        case KernelPath::scalar: break;
    }
    return scalar;
}

// Guards against running an instruction set the CPU lacks, which would end
// the process with SIGILL instead of an error.
void check_supported(KernelPath path) {
    if (!is_supported(path)) {
        throw std::invalid_argument("quant: kernel path " + std::string(kernel_path_name(path)) +
                                    " is not supported by this CPU; supported: " + join_names(supported_kernel_paths()));
    }
}

// Checks the arguments of dot_rows_on() and dot_rows_f32_on(). kind names the
// activation format in the message for an unsupported weight type.
void check_rows_arguments(KernelPath path, std::string_view kind, gguf::GgmlType type, size_t row_bytes,
                          int64_t n_in, int64_t o0, int64_t o1) {
    check_supported(path);
    if (!has_int8_kernel(type)) {
        throw std::invalid_argument("quant: no " + std::string(kind) + " kernel for weight type " +
                                    std::string(gguf::type_name(type)) + "; supported: Q4_0, Q4_1, Q8_0");
    }
    if (n_in < 0 || n_in % kBlock != 0) {
        throw std::invalid_argument("quant: n_in " + std::to_string(n_in) + " is not a multiple of " +
                                    std::to_string(kBlock));
    }
    if (row_bytes < gguf::row_size(type, n_in)) {
        throw std::invalid_argument("quant: row stride of " + std::to_string(row_bytes) + " bytes is shorter than a " +
                                    std::string(gguf::type_name(type)) + " row of " + std::to_string(n_in) +
                                    " elements");
    }
    if (o0 < 0 || o1 < o0) {
        throw std::invalid_argument("quant: invalid row range [" + std::to_string(o0) + ", " + std::to_string(o1) + ")");
    }
}

}  // namespace

std::string_view kernel_path_name(KernelPath path) {
    switch (path) {
        case KernelPath::scalar: return "scalar";
        case KernelPath::avx2: return "avx2";
        case KernelPath::avx512vnni: return "avx512vnni";
    }
    return "unknown";
}

std::span<const KernelPath> supported_kernel_paths() {
    const SupportedPaths& s = supported();
    return {s.paths.data(), s.count};
}

KernelPath parse_kernel_path(std::string_view value) {
    for (KernelPath path : kAllPaths) {
        if (value != kernel_path_name(path)) continue;
        if (!is_supported(path)) {
            throw std::runtime_error("COMPACTOR_KERNEL=" + std::string(value) +
                                     " selects a kernel path this CPU cannot run; accepted values: " +
                                     join_names(kAllPaths) + "; this CPU supports: " +
                                     join_names(supported_kernel_paths()));
        }
        return path;
    }
    throw std::runtime_error("COMPACTOR_KERNEL=" + std::string(value) + " is not a kernel path; accepted values: " +
                             join_names(kAllPaths) + "; this CPU supports: " + join_names(supported_kernel_paths()));
}

KernelPath active_kernel_path() {
    // A throwing initializer leaves the static uninitialized, so every call
    // with an invalid COMPACTOR_KERNEL throws again.
    static const KernelPath path = [] {
        const char* value = std::getenv("COMPACTOR_KERNEL");
        if (value != nullptr && *value != '\0') return parse_kernel_path(value);
        return supported_kernel_paths().back();
    }();
    return path;
}

bool has_int8_kernel(gguf::GgmlType type) {
    return type == gguf::GgmlType::Q4_0 || type == gguf::GgmlType::Q4_1 || type == gguf::GgmlType::Q8_0;
}

void quantize_row_q8(const float* x, int64_t n, BlockQ8* out) { quantize_row_q8_on(active_kernel_path(), x, n, out); }

void quantize_row_q8_on(KernelPath path, const float* x, int64_t n, BlockQ8* out) {
    check_supported(path);
    if (n < 0 || n % kBlock != 0) {
        throw std::invalid_argument("quant: row length " + std::to_string(n) + " is not a multiple of " +
                                    std::to_string(kBlock));
    }
    kernels_for(path).quantize(x, n / kBlock, out);
}

void dot_rows(gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in, const BlockQ8* x, int64_t o0,
              int64_t o1, float* y) {
    dot_rows_on(active_kernel_path(), type, w, row_bytes, n_in, x, o0, o1, y);
}

void dot_rows_on(KernelPath path, gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in,
                 const BlockQ8* x, int64_t o0, int64_t o1, float* y) {
    check_rows_arguments(path, "int8", type, row_bytes, n_in, o0, o1);
    const detail::PathKernels& kernels = kernels_for(path);
    const detail::RowsKernel kernel = type == gguf::GgmlType::Q4_0   ? kernels.q4_0
                                      : type == gguf::GgmlType::Q4_1 ? kernels.q4_1
                                                                     : kernels.q8_0;
    kernel(w + static_cast<size_t>(o0) * row_bytes, row_bytes, n_in / kBlock, x, o1 - o0, y);
}

void dot_rows_f32(gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in, const float* x, int64_t o0,
                  int64_t o1, float* y) {
    dot_rows_f32_on(active_kernel_path(), type, w, row_bytes, n_in, x, o0, o1, y);
}

void dot_rows_f32_on(KernelPath path, gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in,
                     const float* x, int64_t o0, int64_t o1, float* y) {
    check_rows_arguments(path, "fp32-activation", type, row_bytes, n_in, o0, o1);
    const detail::PathKernels& kernels = kernels_for(path);
    const detail::RowsF32Kernel kernel = type == gguf::GgmlType::Q4_0   ? kernels.q4_0_f32
                                         : type == gguf::GgmlType::Q4_1 ? kernels.q4_1_f32
                                                                        : kernels.q8_0_f32;
    kernel(w + static_cast<size_t>(o0) * row_bytes, row_bytes, n_in / kBlock, x, o1 - o0, y);
}

}  // namespace compactor::quant
