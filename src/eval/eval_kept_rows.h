// A fingerprint of the rows a compressed KV cache kept, so that variants
// that keep the same rows share one answer.
#pragma once

#include <cstdint>

#include "kv/kv_cache.h"

namespace compactor::eval {

// A 64-bit FNV-1a hash of the positions kept in every (layer, KV head) of
// the cache, in order. Equal kept sets give equal hashes; callers treat
// equal hashes as equal sets, which a 64-bit hash makes a safe bet but not
// a certainty.
uint64_t kept_rows_hash(const KvCache& cache);

}  // namespace compactor::eval
