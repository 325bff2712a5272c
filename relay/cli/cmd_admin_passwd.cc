// cmd_admin_passwd.cc - hash a console password (see cmd_admin_passwd.h).
#include "relay/cli/cmd_admin_passwd.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "relay/core/password_hash.h"

namespace relay {

namespace {

// Echo off on standard input while alive (a terminal only).
class NoEcho {
 public:
  NoEcho() {
    if (tcgetattr(0, &saved_) != 0) return;
    termios t = saved_;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    on_ = tcsetattr(0, TCSAFLUSH, &t) == 0;
  }
  ~NoEcho() {
    if (on_) tcsetattr(0, TCSAFLUSH, &saved_);
  }

 private:
  termios saved_{};
  bool on_ = false;
};

std::string read_line(std::istream& in) {
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int cmd_admin_passwd(std::istream& in, bool terminal, std::ostream& out, std::ostream& err) {
  std::string password;
  if (terminal) {
    std::string again;
    {
      NoEcho quiet;
      err << "Password: " << std::flush;
      password = read_line(in);
      err << "\nAgain: " << std::flush;
      again = read_line(in);
      err << "\n";
    }
    if (password != again) {
      err << "smarthost admin-passwd: the two passwords differ\n";
      return 1;
    }
  } else {
    password = read_line(in);
  }
  if (password.empty()) {
    err << "smarthost admin-passwd: empty password\n";
    return 1;
  }
  std::string hash = make_password_hash(password);
  if (hash.empty()) {
    err << "smarthost admin-passwd: libcrypt cannot make a yescrypt hash\n";
    return 1;
  }
  out << hash << "\n";
  return 0;
}

}  // namespace relay
