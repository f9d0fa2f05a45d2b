#include "model/threads.h"

#include <algorithm>
#include <thread>

#include <cblas.h>

// Debian's pthread OpenBLAS exports these, but not every cblas.h declares them.
extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

namespace compactor {

int resolve_thread_count(int n_threads) {
    if (n_threads > 0) return n_threads;
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

SingleThreadedBlas::SingleThreadedBlas() : previous_(openblas_get_num_threads()) {
    openblas_set_num_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() { openblas_set_num_threads(previous_); }

}  // namespace compactor
