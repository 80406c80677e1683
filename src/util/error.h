// Error reporting: one exception type for every user-facing failure, and checks that say
// where they fired. The CLI turns an Error into a one-line message and a non-zero exit.
#pragma once

#include <stdexcept>
#include <string>

namespace rnnb {

// A failure the user can act on (bad input, missing file, refused option).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command-line mistake: reported with a pointer to --help, exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace rnnb

// Internal invariant: a failure here is a bug, reported with file:line.
#define RNNB_ASSERT(cond)                                                                  \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::rnnb::Error(std::string(__FILE__) + ":" + std::to_string(__LINE__) +        \
                          ": internal check failed: " #cond);                              \
  } while (0)
