// Opening (memory mapping) a GGUF file and looking up its metadata and tensors.
#include "gguf/gguf_file.h"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace compactor::gguf {

namespace {

// Closes a file descriptor on scope exit; the mapping outlives it.
struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
};

std::system_error os_error(const std::string& what, const std::string& path) {
    return std::system_error(errno, std::generic_category(),
                             fmt::format("GGUF: {} '{}'", what, path));
}

}  // namespace

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw os_error("cannot open model file", path);
    const FdCloser closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) throw os_error("cannot stat", path);
    if (!S_ISREG(st.st_mode)) {
        throw GgufError(fmt::format("GGUF: '{}' is not a regular file; pass the path of a .gguf "
                                    "model", path));
    }
    const auto size = static_cast<size_t>(st.st_size);
    if (size == 0) throw GgufError(fmt::format("GGUF: file '{}' is empty", path));

    std::unique_ptr<GgufFile> file(new GgufFile());
    file->path_ = path;
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) throw os_error("cannot memory-map", path);
    // From here the destructor unmaps, also when parse() throws.
    file->mapping_ = mapping;
    file->base_ = static_cast<const uint8_t*>(mapping);
    file->size_ = size;
    try {
        file->parse();
    } catch (const GgufError& e) {
        throw GgufError(fmt::format("{}, in '{}': the file is truncated, corrupt or not a "
                                    "supported GGUF model; fetch or convert it again", e.what(), path));
    }

    spdlog::info("gguf: opened {} (GGUF v{}, {} metadata keys, {} tensors, {:.1f} MiB)", path,
                 file->version_, file->metadata_.size(), file->tensors_.size(),
                 static_cast<double>(size) / (1024.0 * 1024.0));
    return file;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const uint8_t* bytes, size_t size) {
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->path_ = "<memory>";
    file->base_ = bytes;
    file->size_ = size;
    file->parse();
    return file;
}

GgufFile::~GgufFile() {
    if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

const Value* GgufFile::find(const std::string& key) const {
    const auto it = metadata_index_.find(key);
    return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {

const Value& require(const GgufFile& file, const std::string& key) {
    const Value* v = file.find(key);
    if (v == nullptr) {
        throw GgufError(fmt::format("GGUF: metadata key '{}' is missing from {}", key, file.path()));
    }
    return *v;
}

// Run a typed access and prefix any type error with the key.
template <typename F>
auto with_key(const std::string& key, F&& access) {
    try {
        return access();
    } catch (const GgufError& e) {
        throw GgufError(fmt::format("{} (key '{}')", e.what(), key));
    }
}

}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
    const Value& v = require(*this, key);
    return with_key(key, [&] { return v.as_string(); });
}

int64_t GgufFile::get_int(const std::string& key) const {
    const Value& v = require(*this, key);
    return with_key(key, [&] { return v.as_int(); });
}

double GgufFile::get_float(const std::string& key) const {
    const Value& v = require(*this, key);
    return with_key(key, [&] { return v.as_float(); });
}

const Array& GgufFile::get_array(const std::string& key) const {
    const Value& v = require(*this, key);
    return *with_key(key, [&] { return &v.as_array(); });
}

std::string GgufFile::get_string_or(const std::string& key, const std::string& fallback) const {
    return has(key) ? get_string(key) : fallback;
}

int64_t GgufFile::get_int_or(const std::string& key, int64_t fallback) const {
    return has(key) ? get_int(key) : fallback;
}

double GgufFile::get_float_or(const std::string& key, double fallback) const {
    return has(key) ? get_float(key) : fallback;
}

const TensorInfo* GgufFile::find_tensor(const std::string& name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& GgufFile::tensor(const std::string& name) const {
    const TensorInfo* t = find_tensor(name);
    if (t == nullptr) {
        throw GgufError(fmt::format("GGUF: tensor '{}' is missing from {} ({} tensors)", name,
                                    path_, tensors_.size()));
    }
    return *t;
}

}  // namespace compactor::gguf
