#include "mediacore/parallel.h"

#include <algorithm>

#ifdef __linux__
#include <pthread.h>
#endif

namespace mediacore {

WorkerPool::WorkerPool(int threads) : threads_(std::max(1, threads)) {}

void WorkerPool::start() {
  started_ = true;
  alive_ = threads_ - 1;
  for (int i = 1; i < threads_; ++i) {
    workers_.emplace_back([this] { loop(); });
#ifdef __linux__
    pthread_setname_np(workers_.back().native_handle(), "vmedia-compose");  // as top and /proc/*/task show it
#endif
  }
}

WorkerPool::~WorkerPool() { close(); }

int WorkerPool::alive() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_;
}

void WorkerPool::close() {
  std::lock_guard<std::mutex> one(close_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

WorkerPool::Job* WorkerPool::wanted() const {
  for (Job* j : jobs_) {
    if (j->next < j->total && j->helpers < j->max_helpers) return j;
  }
  return nullptr;
}

// Takes items of `job` until none are left; lock held on entry and exit. The job lives on
// its caller's stack until finished == total, so it is not touched after that.
void WorkerPool::work(Job* job, std::unique_lock<std::mutex>& lock) {
  while (job->next < job->total) {
    const int i = job->next++;
    const auto* fn = job->fn;
    lock.unlock();
    std::exception_ptr err;
    try {
      (*fn)(i);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    if (err && !job->error) job->error = err;
    if (++job->finished == job->total) {
      done_.notify_all();
      return;
    }
  }
}

void WorkerPool::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    Job* job = nullptr;
    wake_.wait(lock, [&] { return stop_ || (job = wanted()) != nullptr; });
    if (stop_) break;
    // Never counted down: once a job has no items left no worker looks at it again, and
    // after its last item it may be gone (its caller returned).
    ++job->helpers;
    work(job, lock);
  }
  --alive_;
}

void WorkerPool::run(int n, int helpers, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  Job job;
  job.fn = &fn;
  job.total = n;
  job.max_helpers = std::clamp(std::min(helpers, n - 1), 0, threads_ - 1);
  std::unique_lock<std::mutex> lock(mu_);
  if (!stop_ && !started_ && job.max_helpers > 0) start();
  if (stop_ || job.max_helpers == 0) {
    lock.unlock();
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  jobs_.push_back(&job);
  auto self = std::prev(jobs_.end());
  wake_.notify_all();
  work(&job, lock);
  jobs_.erase(self);
  done_.wait(lock, [&] { return job.finished == job.total; });
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace mediacore
