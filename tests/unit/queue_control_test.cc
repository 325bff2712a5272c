// queue_control_test.cc - the queue lock: one holder at a time, the holder named, the PID file
// written and removed only by the holder, the lock free again once its owner is gone.
#include <CppUTest/TestHarness.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "relay/queue/queue_control.h"

using namespace relay;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/smarthost-lock-XXXXXX";
  return mkdtemp(tmpl);
}

bool exists(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0;
}

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

}  // namespace

TEST_GROUP(QueueLock) {
  std::string dir;
  void setup() override { dir = temp_dir(); }
  void teardown() override {
    std::string cmd = "rm -rf '" + dir + "'";
    CHECK(system(cmd.c_str()) == 0);
  }
};

TEST(QueueLock, SecondHolderIsRefusedWithTheFirstOnesPid) {
  std::string err;
  auto first = QueueLock::acquire(dir + "/q", &err);  // makes the queue folder
  CHECK_TEXT(first != nullptr, err.c_str());
  // flock() locks belong to the open file: a second open in this process conflicts like another relay.
  auto second = QueueLock::acquire(dir + "/q", &err);
  CHECK(second == nullptr);
  std::string want = "queue " + dir + "/q is in use by pid " + std::to_string(getpid());
  STRCMP_EQUAL(want.c_str(), err.c_str());
}

TEST(QueueLock, PidFileIsTheHoldersAndGoesWithIt) {
  std::string err;
  auto lock = QueueLock::acquire(dir, &err);
  CHECK_TEXT(lock != nullptr, err.c_str());
  CHECK(!exists(pid_file(dir)));  // written only once the relay runs
  lock->write_pid_file();
  STRCMP_EQUAL(std::to_string(getpid()).c_str(), first_line(pid_file(dir)).c_str());
  CHECK(QueueLock::acquire(dir, &err) == nullptr);  // a refused relay leaves the PID file alone
  CHECK(exists(pid_file(dir)));
  lock.reset();
  CHECK(!exists(pid_file(dir)));
  auto again = QueueLock::acquire(dir, &err);  // free once the owner is gone
  CHECK_TEXT(again != nullptr, err.c_str());
}

TEST(QueueLock, MissingParentIsAnError) {
  std::string err;
  CHECK(QueueLock::acquire(dir + "/no/such", &err) == nullptr);
  CHECK_TEXT(err.find("cannot create queue folder " + dir + "/no/such") == 0, err.c_str());
}
