#include "mediacore/parallel.h"

namespace mediacore {

WorkerPool::WorkerPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerPool::drain(std::unique_lock<std::mutex>& lock) {
  // Takes items of the current job until none are left; lock is held on entry and exit.
  while (job_ && next_ < total_) {
    const int i = next_++;
    const auto* fn = job_;
    lock.unlock();
    std::exception_ptr err;
    try {
      (*fn)(i);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    if (err && !error_) error_ = err;
    if (++finished_ == total_) done_.notify_all();
  }
}

void WorkerPool::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  long seen = generation_;
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    drain(lock);
  }
}

void WorkerPool::run(int n, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> one_job(run_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  job_ = &fn;
  next_ = 0;
  total_ = n;
  finished_ = 0;
  error_ = nullptr;
  ++generation_;
  wake_.notify_all();
  drain(lock);
  done_.wait(lock, [&] { return finished_ == total_; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace mediacore
