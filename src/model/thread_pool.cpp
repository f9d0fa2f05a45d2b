#include "model/thread_pool.h"

namespace compactor {

namespace {

// Yields before sleeping: long enough to bridge the gap between the steps of
// a layer, short enough to give the cores back soon when idle.
constexpr int kYieldRounds = 1000;

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        const std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run_job(Job& job) {
    // A worker that joins late finds every index claimed and touches nothing,
    // so job.task is never called after the caller has returned.
    for (;;) {
        const int64_t i = job.next.fetch_add(1);
        if (i >= job.n_tasks) return;
        (*job.task)(i);
        if (job.finished.fetch_add(1) + 1 == job.n_tasks) {
            const std::lock_guard lock(mutex_);
            finished_.notify_all();
        }
    }
}

void ThreadPool::worker_loop() {
    uint64_t seen = 0;
    for (;;) {
        for (int round = 0; round < kYieldRounds && generation_.load() == seen; ++round) {
            std::this_thread::yield();
        }

        std::shared_ptr<Job> job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
            if (stop_) return;
            seen = generation_.load();
            job = job_;
        }
        run_job(*job);
    }
}

void ThreadPool::parallel_for(int64_t n_tasks, const Task& task) {
    if (n_tasks <= 0) return;
    if (workers_.empty() || n_tasks == 1) {
        for (int64_t i = 0; i < n_tasks; ++i) task(i);
        return;
    }

    // Publish the job, then work on it from this thread as well
    auto job = std::make_shared<Job>();
    job->task = &task;
    job->n_tasks = n_tasks;
    {
        const std::lock_guard lock(mutex_);
        job_ = job;
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    run_job(*job);

    // Wait for the tasks other threads claimed
    for (int round = 0; round < kYieldRounds && job->finished.load() < n_tasks; ++round) {
        std::this_thread::yield();
    }
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return job->finished.load() == n_tasks; });
}

}  // namespace compactor
