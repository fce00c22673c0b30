// A persistent worker pool that splits jobs into items (compositor bands). Several
// threads may run jobs at once: each caller works through its own job and idle workers
// help whichever job still has items, so no caller waits for another's job and the pool
// never runs more threads than it was built with.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace mediacore {

class WorkerPool {
 public:
  // `threads` counts the caller: threads - 1 workers, started by the first job that
  // wants helpers (a pool only ever used with one thread starts none).
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return threads_; }
  // Workers started and not yet joined.
  int alive() const;
  // Runs fn(0..n-1) on the calling thread and at most `helpers` workers; rethrows the
  // first exception. After close() the calling thread runs every item itself.
  void run(int n, int helpers, const std::function<void(int)>& fn);
  // Joins the workers (each finishes the item it is on). Idempotent.
  void close();

 private:
  struct Job {
    const std::function<void(int)>* fn;
    int next = 0, total = 0, finished = 0, helpers = 0, max_helpers = 0;
    std::exception_ptr error;
  };
  void start();  // mu_ held
  void loop();
  Job* wanted() const;  // a job with items left and room for a helper; mu_ held
  void work(Job* job, std::unique_lock<std::mutex>& lock);

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex close_mu_;  // one close() joins
  mutable std::mutex mu_;
  std::condition_variable wake_, done_;
  std::list<Job*> jobs_;
  int alive_ = 0;
  bool started_ = false, stop_ = false;
};

}  // namespace mediacore
