// cmd_admin_passwd.h - `smarthost admin-passwd`: a crypt(3) yescrypt hash for admin.users
// (SPEC R-CONSOLE). Reads the password from standard input: on a terminal it asks twice with
// echo off; otherwise it takes the first line. Prints the hash on standard output. Exit 0; 1
// when the password is empty, the two differ, or libcrypt cannot hash.
#pragma once

#include <iosfwd>

namespace relay {

int cmd_admin_passwd(std::istream& in, bool terminal, std::ostream& out, std::ostream& err);

}  // namespace relay
