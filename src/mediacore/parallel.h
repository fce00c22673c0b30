// A small persistent worker pool for splitting one job into bands (compositor rows).
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mediacore {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs fn(0..n-1), the calling thread taking part; rethrows the first exception.
  void run(int n, const std::function<void(int)>& fn);

 private:
  void loop();
  void drain(std::unique_lock<std::mutex>& lock);

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one job at a time per pool
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int next_ = 0, total_ = 0, finished_ = 0;
  long generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace mediacore
