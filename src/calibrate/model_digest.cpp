#include "calibrate/model_digest.h"

#include <fstream>
#include <memory>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace compactor::calibrate {

std::string file_sha256(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("cannot read {} to compute its SHA-256; check the path", path));

    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL could not start a SHA-256 digest");
    }
    std::vector<char> buffer(size_t{1} << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const std::streamsize n = in.gcount();
        if (n > 0 && EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(n)) != 1) {
            throw std::runtime_error("OpenSSL failed while hashing " + path);
        }
    }
    if (in.bad()) throw std::runtime_error(fmt::format("read error in {} while computing its SHA-256", path));

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n_digest = 0;
    if (EVP_DigestFinal_ex(context.get(), digest, &n_digest) != 1) {
        throw std::runtime_error("OpenSSL could not finish a SHA-256 digest");
    }
    std::string hex;
    for (unsigned int i = 0; i < n_digest; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

}  // namespace compactor::calibrate
