// fuzz_regressions_test.cc - inputs the fuzz targets (tests/fuzz/) found, kept as unit tests.
//
// Each case names the target that found it and what went wrong. Run under ASan + UBSan with
// leak detection (make check), so a leak or an over-read comes back as a failure here.
#include <CppUTest/TestHarness.h>

#include <string>

#include "config/config_loader.h"

namespace {

std::string joined(const config::LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e + "\n";
  return s;
}

}  // namespace

TEST_GROUP(FuzzRegressions){};

// fuzz_config_loader: a file holding just `""` (a string where a setting name belongs) is a
// syntax error; libconfig 1.7.3 leaks the string token it was reading (LeakSanitizer reported
// it; config_loader.cc tells LSan to ignore that third-party leak). Got/want: one syntax error
// at line 1, no config, no leak report at exit.
TEST(FuzzRegressions, BareStringConfigIsOneSyntaxErrorWithoutLeak) {
  for (const char* text : {"\"\"", "a = 1; \"x\"", "routes = ( \"abc\" \"def\" ; )"}) {
    auto r = config::load_config_text(text, "f.cfg");
    std::string got = joined(r);
    CHECK_TEXT(r.config == nullptr, text);
    CHECK_EQUAL_TEXT(1u, r.errors.size(), got.c_str());
    CHECK_TEXT(r.errors[0].rfind("f.cfg:1: syntax error", 0) == 0, ("got " + got + "want f.cfg:1: syntax error").c_str());
  }
}
