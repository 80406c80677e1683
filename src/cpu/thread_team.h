// A fixed team of threads for the CPU backend's fork-join parallelism: run(fn) calls
// fn(lane) once for every lane 0..size()-1, lane 0 on the calling thread, and returns when
// all have finished. The work split is the caller's, by lane, so a result depends on the
// team's size and never on timing. The library calls made inside a lane are
// single-threaded: the team is the only source of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace rnnb {

class ThreadTeam {
 public:
  // threads: lanes including the caller's; 0 = the machine's hardware threads.
  explicit ThreadTeam(int threads);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(lane) on every lane; rethrows the first exception a lane threw. Not reentrant.
  void run(const std::function<void(int lane)>& fn);

  // lane's share [begin, end) of count items split into size() contiguous blocks.
  static void split(int64_t count, int lane, int lanes, int64_t* begin, int64_t* end);

 private:
  void worker(int lane);
  void stop();

  std::vector<std::thread> workers_;
  const std::function<void(int)>* task_ = nullptr;
  std::atomic<uint32_t> generation_{0};  // bumped once per run() (a futex word: 32 bits)
  std::atomic<int> pending_{0};          // lanes of the current run still working
  std::atomic<bool> stopping_{false};
  std::vector<std::exception_ptr> errors_;
};

}  // namespace rnnb
