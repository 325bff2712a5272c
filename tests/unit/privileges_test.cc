// privileges_test.cc - private key modes and run-user lookup (relay/privileges.h).
#include <CppUTest/TestHarness.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "relay/privileges.h"

TEST_GROUP(Privileges){};

TEST(Privileges, KeyModes) {
  char dir[] = "/tmp/privileges-test-XXXXXX";
  CHECK(mkdtemp(dir) != nullptr);
  std::string key = std::string(dir) + "/k.key";
  FILE* f = fopen(key.c_str(), "w");
  CHECK(f != nullptr);
  fputs("not really a key\n", f);
  fclose(f);
  struct stat st{};
  CHECK_EQUAL(0, stat(key.c_str(), &st));
  gid_t own = st.st_gid, other = st.st_gid + 1;
  const struct {
    mode_t mode;
    gid_t run_gid;
    bool ok;
    const char* words;  // in the error when refused
  } cases[] = {
      {0600, own, true, ""},
      {0400, other, true, ""},
      {0640, own, true, ""},  // readable by the relay's own group: root:smarthost 0640
      {0640, other, false, "must not be readable by group"},
      {0660, other, false, "must not be readable by group"},
      {0644, own, false, "has mode 0644: a private key must not be readable by other users"},
      {0602, own, false, "other users"},
  };
  for (const auto& c : cases) {
    CHECK_EQUAL(0, chmod(key.c_str(), c.mode));
    std::string error;
    bool got = relay::check_private_key(key, c.run_gid, &error);
    char label[160];
    snprintf(label, sizeof label, "mode %04o run gid %s: got %s (%s), want %s", static_cast<unsigned>(c.mode),
             c.run_gid == own ? "own" : "other", got ? "ok" : "refused", error.c_str(), c.ok ? "ok" : "refused");
    CHECK_TEXT(got == c.ok, label);
    if (!c.ok) CHECK_TEXT(error.find(c.words) != std::string::npos, label);
  }
  std::string error;
  CHECK_TEXT(relay::check_private_key(std::string(dir) + "/missing.key", own, &error), "missing: left to the TLS loader");
  CHECK(relay::check_private_key("", own, &error));
  unlink(key.c_str());
  rmdir(dir);
}

TEST(Privileges, RunUserLookup) {
  std::string error;
  auto u = relay::find_run_user("no-such-user-for-smarthost-tests", &error);
  CHECK_FALSE(u.has_value());
  if (geteuid() == 0) {
    CHECK_TEXT(error.find("user 'no-such-user-for-smarthost-tests' does not exist") != std::string::npos, error.c_str());
    error.clear();
    auto root = relay::find_run_user("root", &error);
    CHECK_TEXT(root.has_value() && root->uid == 0, error.c_str());
  } else {
    CHECK_TEXT(error.empty(), ("not root: no drop, no error; got " + error).c_str());
  }
}
