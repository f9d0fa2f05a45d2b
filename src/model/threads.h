// Thread counts for the forward pass.
//
// The forward pass runs in parallel through its ThreadPool only: every matrix
// product is split into slices that pool threads hand to single-threaded BLAS
// calls. Letting OpenBLAS start its own pthread pool as well makes the two
// pools spin against each other between the many short steps of a layer. On a
// shared 2-core machine a 32-token prefill of SmolLM2-135M ran about 30 times
// slower that way.
#pragma once

namespace compactor {

// The count to use for a request: n_threads itself when positive, else
// std::thread::hardware_concurrency() (at least 1).
int resolve_thread_count(int n_threads);

// Sets OpenBLAS to one thread for the scope's lifetime and restores the
// previous count afterwards.
// NOTE: OpenBLAS's count is process-wide, so a scope that ends while another
// thread's forward() runs gives that call multi-threaded BLAS again (still
// correct, only slower).
class SingleThreadedBlas {
public:
    SingleThreadedBlas();
    ~SingleThreadedBlas();
    SingleThreadedBlas(const SingleThreadedBlas&) = delete;
    SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

private:
    int previous_;
};

}  // namespace compactor
