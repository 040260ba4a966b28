// The pthreadpool calls edge makes, implemented with std::thread, a mutex and
// condition variables, for the ThreadSanitizer build only (scripts/test.sh
// links it in place of Debian's libpthreadpool). Debian's library is not
// instrumented: TSan cannot see the synchronization inside it and would
// report every hand-over of a task to a worker as a race. Here every
// hand-over goes through the mutex, so TSan reports only races between the
// tasks themselves, which is what the TSan stage is for.
//
// Semantics follow pthreadpool.h: a null pool runs the loop on the caller;
// the caller works alongside threads_count - 1 workers; items are handed out
// one at a time in increasing order.
#include <pthreadpool.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

struct pthreadpool {
  size_t threads = 1;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  const std::function<void(size_t)>* job = nullptr;
  size_t range = 0, next = 0, finished = 0;
  unsigned generation = 0;
  bool stop = false;

  // Claims items of the current job until none are left.
  void Drain(std::unique_lock<std::mutex>& lock) {
    while (job != nullptr && next < range) {
      const size_t i = next++;
      const std::function<void(size_t)>* f = job;
      lock.unlock();
      (*f)(i);
      lock.lock();
      if (++finished == range) done_cv.notify_all();
    }
  }

  // `seen` is the generation at pthreadpool_create, read before the thread
  // starts: a worker that starts late (a loaded machine) must still take
  // part in a job posted before it first locked the mutex. Reading the
  // generation here instead made it skip that job, and PinThreadPool, whose
  // tasks wait for one another, then waited for a worker that never came.
  void Worker(unsigned seen) {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(lock, [&] { return stop || generation != seen; });
      if (stop) return;
      seen = generation;
      Drain(lock);
    }
  }

  void Run(size_t n, const std::function<void(size_t)>& f) {
    if (n == 0) return;
    std::unique_lock<std::mutex> lock(mu);
    job = &f;
    range = n;
    next = 0;
    finished = 0;
    ++generation;
    work_cv.notify_all();
    Drain(lock);
    done_cv.wait(lock, [&] { return finished == range; });
    job = nullptr;
  }
};

namespace {

void Loop(pthreadpool_t pool, size_t n, const std::function<void(size_t)>& f) {
  if (pool == nullptr || pool->threads <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  pool->Run(n, f);
}

}  // namespace

extern "C" {

pthreadpool_t pthreadpool_create(size_t threads_count) {
  if (threads_count == 0) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads_count = n > 0 ? static_cast<size_t>(n) : 1;
  }
  pthreadpool* pool = new pthreadpool();
  pool->threads = threads_count;
  const unsigned start = pool->generation;  // no job posted yet
  for (size_t i = 1; i < threads_count; ++i) pool->workers.emplace_back([pool, start] { pool->Worker(start); });
  return pool;
}

size_t pthreadpool_get_threads_count(pthreadpool_t pool) { return pool == nullptr ? 1 : pool->threads; }

void pthreadpool_parallelize_1d(pthreadpool_t pool, pthreadpool_task_1d_t function, void* context,
                                size_t range, uint32_t) {
  Loop(pool, range, [&](size_t i) { function(context, i); });
}

void pthreadpool_parallelize_1d_tile_1d(pthreadpool_t pool, pthreadpool_task_1d_tile_1d_t function,
                                        void* context, size_t range, size_t tile, uint32_t) {
  const size_t tiles = (range + tile - 1) / tile;
  Loop(pool, tiles, [&](size_t t) {
    const size_t start = t * tile;
    function(context, start, range - start < tile ? range - start : tile);
  });
}

void pthreadpool_parallelize_2d_tile_2d(pthreadpool_t pool, pthreadpool_task_2d_tile_2d_t function,
                                        void* context, size_t range_i, size_t range_j, size_t tile_i,
                                        size_t tile_j, uint32_t) {
  const size_t ti = (range_i + tile_i - 1) / tile_i, tj = (range_j + tile_j - 1) / tile_j;
  Loop(pool, ti * tj, [&](size_t t) {
    const size_t i = t / tj * tile_i, j = t % tj * tile_j;
    function(context, i, j, range_i - i < tile_i ? range_i - i : tile_i,
             range_j - j < tile_j ? range_j - j : tile_j);
  });
}

void pthreadpool_destroy(pthreadpool_t pool) {
  if (pool == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(pool->mu);
    pool->stop = true;
  }
  pool->work_cv.notify_all();
  for (std::thread& t : pool->workers) t.join();
  delete pool;
}

}  // extern "C"
