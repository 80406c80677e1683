// --deterministic's CUBLAS_WORKSPACE_CONFIG decision (util/cublas_workspace.h), host only.
#include <gtest/gtest.h>

#include <string>

#include "util/cublas_workspace.h"

namespace rnnb {
namespace {

TEST(CublasWorkspace, NothingAskedWithoutDeterministic) {
  for (const char* value : {static_cast<const char*>(nullptr), "", ":4096:8", "garbage"}) {
    const CublasWorkspaceDecision d = decide_cublas_workspace(false, value);
    EXPECT_TRUE(d.set_to.empty());
    EXPECT_TRUE(d.error.empty());
  }
}

TEST(CublasWorkspace, UnsetIsSetToTheLargeConfiguration) {
  for (const char* value : {static_cast<const char*>(nullptr), ""}) {
    const CublasWorkspaceDecision d = decide_cublas_workspace(true, value);
    EXPECT_EQ(d.set_to, ":4096:8");
    EXPECT_TRUE(d.error.empty());
  }
}

TEST(CublasWorkspace, ReproducibleConfigurationsAreKept) {
  for (const char* value : {":4096:8", ":16:8"}) {
    const CublasWorkspaceDecision d = decide_cublas_workspace(true, value);
    EXPECT_TRUE(d.set_to.empty()) << value;
    EXPECT_TRUE(d.error.empty()) << value;
  }
}

TEST(CublasWorkspace, OtherValuesAreRefusedInOneLineNamingTheValue) {
  for (const char* value : {":4096:2", ":16:8:4096:8", "4096:8", "x"}) {
    const CublasWorkspaceDecision d = decide_cublas_workspace(true, value);
    EXPECT_TRUE(d.set_to.empty()) << value;
    ASSERT_FALSE(d.error.empty()) << value;
    EXPECT_NE(d.error.find(std::string("'") + value + "'"), std::string::npos) << d.error;
    EXPECT_NE(d.error.find("CUBLAS_WORKSPACE_CONFIG"), std::string::npos) << d.error;
    EXPECT_EQ(d.error.find('\n'), std::string::npos) << d.error;
  }
}

}  // namespace
}  // namespace rnnb
