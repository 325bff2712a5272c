// config_warnings_test.cc - each warning of config_warnings() with its FILE:LINE, the cases that
// must stay silent, and Config::where() for settings present and left at their default.
#include <CppUTest/TestHarness.h>

#include <string>

#include "config/config_loader.h"
#include "config/config_warnings.h"

namespace {

struct Case {
  const char* name;
  const char* text;  // a whole config file
  const char* want;  // the warnings, one a line, "" for none
};

const Case kCases[] = {
    {"private ranges are fine",
     "allow = [ \"10.0.0.0/8\", \"127.0.0.1\", \"fc00::/7\" ];\nqueue = { path = \"/q\"; };\n"
     "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; } );\nlisten = ( { address = \"127.0.0.1\"; } );\n",
     ""},
    {"open ranges",
     "allow = [ \"0.0.0.0/0\",\n \"::/0\",\n \"11.0.0.0/8\", \"11.0.0.0/9\" ];\nqueue = { path = \"/q\"; };\n"
     "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; } );\nlisten = ( { address = \"127.0.0.1\"; } );\n",
     "t.cfg:1: warning: allow[0]: '0.0.0.0/0' lets a large part of the Internet relay through this server: list "
     "only the upstream servers' addresses or ranges\n"
     "t.cfg:2: warning: allow[1]: '::/0' lets a large part of the Internet relay through this server: list only "
     "the upstream servers' addresses or ranges\n"
     "t.cfg:3: warning: allow[2]: '11.0.0.0/8' lets a large part of the Internet relay through this server: list "
     "only the upstream servers' addresses or ranges\n"},
    {"shadowed route and required without verify_ca",
     "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\naddress_lists = { p = [ \"p.example\" ]; };\n"
     "routes = (\n{ name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; },\n"
     "{ name = \"p\"; match = [ \"p\" ]; kind = \"mx\"; tls = \"required\"; } );\n"
     "listen = ( { address = \"127.0.0.1\"; } );\n",
     "t.cfg:6: warning: routes[1]: route 'p' is never used: route 'd' (t.cfg:5) matches every recipient (\"*\") "
     "before it; move 'd' to the end\n"
     "t.cfg:6: warning: routes[1]: route 'p' requires TLS but accepts any certificate (verify_ca = false): an "
     "attacker in the path can present their own; set verify_ca = true (and verify_hostname = true)\n"},
    {"public listen without STARTTLS, default listen has no line",
     "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
     "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; } );\n",
     "t.cfg: warning: listen[0]: listening on public address 0.0.0.0 without STARTTLS (no tls.cert): mail from "
     "the upstream crosses the network in clear; set tls.cert and tls.key\n"
     "t.cfg: warning: listen[1]: listening on public address :: without STARTTLS (no tls.cert): mail from the "
     "upstream crosses the network in clear; set tls.cert and tls.key\n"},
    {"shared cloud range without a binding",
     "allow = [ \"209.85.128.0/17\",\n \"40.92.1.0/24\", \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
     "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; } );\nlisten = ( { address = \"127.0.0.1\"; } );\n"
     "relay_policy = { exempt = [ \"10.0.0.0/8\" ]; };\n",
     "t.cfg:1: warning: allow[0]: '209.85.128.0/17' holds 209.85.128.0/17, shared by every Google Workspace customer: "
     "any of them can relay through this server with your IP reputation; bind it to your tenant with relay_policy = "
     "{ sender_domains = [ ... ]; require_dkim = [ ... ]; } (docs/config.md, \"Tenant binding\")\n"
     "t.cfg:2: warning: allow[1]: '40.92.1.0/24' holds 40.92.0.0/15, shared by every Microsoft 365 customer: "
     "any of them can relay through this server with your IP reputation; bind it to your tenant with relay_policy = "
     "{ sender_domains = [ ... ]; require_dkim = [ ... ]; } (docs/config.md, \"Tenant binding\")\n"},
    {"shared cloud range with a binding",
     "allow = [ \"209.85.128.0/17\", \"2001:4860:4000::/36\" ];\nqueue = { path = \"/q\"; };\n"
     "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; } );\nlisten = ( { address = \"127.0.0.1\"; } );\n"
     "relay_policy = { require_dkim = [ \"example.com\" ]; };\n",
     ""},
};

}  // namespace

TEST_GROUP(ConfigWarnings){};

TEST(ConfigWarnings, Table) {
  for (const auto& c : kCases) {
    auto r = config::load_config_text(c.text, "t.cfg");
    CHECK_TEXT(r.config != nullptr, (std::string(c.name) + ": " + (r.errors.empty() ? "" : r.errors[0])).c_str());
    std::string got;
    for (const auto& w : config::config_warnings(*r.config)) got += w + "\n";
    if (got != c.want) FAIL((std::string(c.name) + ":\ngot\n" + got + "want\n" + c.want).c_str());
  }
}

TEST(ConfigWarnings, WhereFallsBackToTheEnclosingSetting) {
  auto r = config::load_config_text("allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                                    "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"mx\"; } );\n"
                                    "tls = {\n  cert = \"\";\n};\n",
                                    "t.cfg");
  CHECK_TEXT(r.config != nullptr, r.errors.empty() ? "" : r.errors[0].c_str());
  STRCMP_EQUAL("t.cfg:2", r.config->where("queue.path").c_str());
  STRCMP_EQUAL("t.cfg:5", r.config->where("tls.cert").c_str());
  STRCMP_EQUAL("t.cfg:4", r.config->where("tls.ca_file").c_str());  // default: the group's line
  STRCMP_EQUAL("t.cfg:3", r.config->where("routes[0]").c_str());
  STRCMP_EQUAL("t.cfg", r.config->where("user").c_str());            // not in the file
}
