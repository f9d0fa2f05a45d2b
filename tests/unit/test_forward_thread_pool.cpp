// compactor-test-libs: compactor_model
// The forward pass's thread pool: every task runs exactly once, also with
// concurrent callers.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "model/thread_pool.h"

namespace compactor {
namespace {

// Run n_tasks tasks that count their own runs and return the counts.
std::vector<int> run_counts(ThreadPool& pool, int64_t n_tasks) {
    std::vector<std::atomic<int>> counts(static_cast<size_t>(n_tasks));
    pool.parallel_for(n_tasks, [&](int64_t i) { counts[static_cast<size_t>(i)].fetch_add(1); });
    std::vector<int> out;
    for (const auto& c : counts) out.push_back(c.load());
    return out;
}

TEST(ThreadPool, EveryTaskRunsOnce) {
    for (int n_threads : {1, 2, 4}) {
        ThreadPool pool(n_threads);
        EXPECT_EQ(pool.n_threads(), n_threads);
        for (int64_t n_tasks : {0, 1, 3, 1000}) {
            const std::vector<int> counts = run_counts(pool, n_tasks);
            ASSERT_EQ(counts.size(), static_cast<size_t>(n_tasks));
            for (size_t i = 0; i < counts.size(); ++i) {
                EXPECT_EQ(counts[i], 1) << "task " << i << " of " << n_tasks << " with " << n_threads << " threads";
            }
        }
    }
}

TEST(ThreadPool, ManyJobsInARow) {
    ThreadPool pool(3);
    int64_t total = 0;
    for (int job = 0; job < 2000; ++job) {
        std::atomic<int64_t> sum{0};
        pool.parallel_for(7, [&](int64_t i) { sum.fetch_add(i + 1); });
        total += sum.load();
    }
    EXPECT_EQ(total, int64_t{2000} * 28);
}

TEST(ThreadPool, ConcurrentCallersEachFinishTheirTasks) {
    ThreadPool pool(2);
    std::atomic<int64_t> sum_a{0};
    std::atomic<int64_t> sum_b{0};
    std::thread other([&] {
        for (int job = 0; job < 300; ++job) pool.parallel_for(16, [&](int64_t i) { sum_b.fetch_add(i); });
    });
    for (int job = 0; job < 300; ++job) pool.parallel_for(16, [&](int64_t i) { sum_a.fetch_add(i); });
    other.join();
    EXPECT_EQ(sum_a.load(), int64_t{300} * 120);
    EXPECT_EQ(sum_b.load(), int64_t{300} * 120);
}

}  // namespace
}  // namespace compactor
