// ThreadTeam (cpu/thread_team.h). Workers sleep on the generation counter (a futex through
// std::atomic::wait) after a short spin, so a step's back-to-back runs stay cheap while an
// idle team costs nothing.
#include "cpu/thread_team.h"

#include <algorithm>
#include <utility>

#include "cpu/float_env.h"
#include "util/error.h"

namespace rnnb {
namespace {

// Spins this many times before sleeping: about a few microseconds, less than a futex wake.
constexpr int kSpins = 4000;

template <typename T, typename Pred>
void await(const std::atomic<T>& value, Pred ready) {
  for (int i = 0; i < kSpins; ++i) {
    if (ready(value.load(std::memory_order_acquire))) return;
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  for (T seen = value.load(std::memory_order_acquire); !ready(seen); seen = value.load(std::memory_order_acquire))
    value.wait(seen, std::memory_order_acquire);
}

}  // namespace

ThreadTeam::ThreadTeam(int threads) {
  if (threads < 0) fail("threads must be 0 (all cores) or positive, got " + std::to_string(threads));
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  errors_.resize(threads);
  workers_.reserve(threads - 1);
  try {
    for (int lane = 1; lane < threads; ++lane) workers_.emplace_back([this, lane] { worker(lane); });
  } catch (...) {
    stop();  // the threads already started
    throw;
  }
}

ThreadTeam::~ThreadTeam() { stop(); }

void ThreadTeam::stop() {
  stopping_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void ThreadTeam::split(int64_t count, int lane, int lanes, int64_t* begin, int64_t* end) {
  const int64_t base = count / lanes, extra = count % lanes;
  *begin = lane * base + std::min<int64_t>(lane, extra);
  *end = *begin + base + (lane < extra ? 1 : 0);
}

void ThreadTeam::run(const std::function<void(int)>& fn) {
  if (workers_.empty()) {
    fn(0);
    return;
  }
  task_ = &fn;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  try {
    fn(0);
  } catch (...) {
    errors_[0] = std::current_exception();
  }
  await(pending_, [](int left) { return left == 0; });
  task_ = nullptr;
  std::exception_ptr first;  // every lane's error is cleared: the next run starts clean
  for (std::exception_ptr& e : errors_)
    if (std::exception_ptr error = std::exchange(e, nullptr); error && !first) first = error;
  if (first) std::rethrow_exception(first);
}

void ThreadTeam::worker(int lane) {
  const FlushDenormals flush;  // the lanes run only the backend's arithmetic
  uint32_t seen = 0;
  for (;;) {
    await(generation_, [seen](uint32_t g) { return g != seen; });
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    try {
      (*task_)(lane);
    } catch (...) {
      errors_[lane] = std::current_exception();
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace rnnb
