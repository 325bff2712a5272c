// help_pages.cc - the text of every sub-command's manual page (see cmd_help.h).
//
// Plain text, paragraphs separated by an empty line; cmd_help.cc lays it out
// for a terminal or as roff. A command missing here is refused by main(), so
// every command the binary has is documented. Nothing here can fail.
#include "relay/cli/cmd_help.h"

namespace relay {

namespace {

const std::pair<std::string, std::string> kConfigOption = {
    "-c FILE", "the configuration file (default /etc/smarthost/smarthost.cfg); every key is described in docs/config.md "
    "of the source, installed as share/doc/smarthost/config.md"};

std::vector<CommandHelp> make_pages() {
  return {
      {"run", "run the relay in the foreground", "smarthost run [-c FILE]",
       "Loads and checks FILE as check-config does, binds the listen addresses, drops to the configured user "
       "(when started as root), opens the queue and relays: accepts mail from the allow list, commits each "
       "message to the queue before answering 250, and delivers it on its route with that route's TLS policy.\n\n"
       "The log goes to standard error unless log.file is set. One relay per queue: a second run on the same "
       "queue.path exits 1 with \"queue PATH is in use by pid N\".\n\n"
       "SIGHUP reloads FILE: new sessions and deliveries use the new configuration; a file with errors is "
       "logged (event=reload-failed) and the running one stays in force. SIGTERM stops accepting, gives live "
       "sessions limits.shutdown_timeout to finish, and exits.",
       {kConfigOption},
       "0 after a clean stop; 1 when the configuration or a start-up check fails."},
      {"check-config", "validate the configuration and print its routes and lists",
       "smarthost check-config [-c FILE] [--test-routes]",
       "Makes every start-up check of run (syntax and values, TLS files and key mode, trust store, user, "
       "queue folder, log file, DKIM key) without creating anything, so it passes exactly what run accepts. "
       "Errors read FILE:LINE: path: message, all of them. Warnings (settings that undermine the TLS promise) "
       "read FILE:LINE: warning: path: message and do not fail.\n\n"
       "Then prints a summary: host name, listeners, allow list, address lists and routes.",
       {kConfigOption,
        {"--test-routes", "also run test-route on every route of kind \"host\", one verdict line each"}},
       "0 valid (and, with --test-routes, every tested route would deliver); 1 otherwise."},
      {"route-for", "the route and candidate hosts for an address", "smarthost route-for [-c FILE] ADDRESS",
       "Prints the route ADDRESS would take and the hosts a delivery would try, in order, with their "
       "addresses, as the relay looks them up (DNS, MX preference, implicit MX, MTA-STS policy).",
       {kConfigOption},
       "0; 1 when the lookup fails or no route matches; 2 on a usage error."},
      {"test-route", "probe a route's hosts and TLS: would mail be delivered?",
       "smarthost test-route [-c FILE] ROUTE [--domain DOMAIN] [--json] [--timeout S]\n"
       "smarthost test-route [-c FILE] --all [--json] [--timeout S]",
       "Probes every candidate host of ROUTE with the delivery code itself: the same DNS lookups and MTA-STS "
       "policy, then per host connect, banner, EHLO, STARTTLS, handshake and the route's certificate, host "
       "name, version and cipher checks. It ends each session with QUIT after EHLO over TLS and sends no mail. "
       "The verdict says whether deliveries on the route would succeed, bounce or be deferred, and why, with "
       "what the admin can do.\n\n"
       "On a route with tls = \"dane\" or \"dane-only\" each host also shows the DNSSEC status of its MX, "
       "address and TLSA answers, the TLSA records, which one matched and why the others did not, and the DANE "
       "result a delivery logs as dane= (verified, failed, no-tlsa, insecure, unusable, bogus); --json adds "
       "hosts[].dane = {secure, records, matched, result}.\n\n"
       "Each step (connect, banner, each reply) waits at most S seconds, so a server that accepts the "
       "connection but never greets is reported as \"no banner within S s\". On a terminal each step is "
       "printed as it happens; otherwise, and with --json, the report is printed at the end.\n\n"
       "A route of kind \"mx\" needs --domain: the recipient domain whose MX hosts to test. With --all every "
       "route is tested; for an mx route, every domain its address lists name, the domain of an address entry "
       "included (a \"*\" route, or lists of only \".sub\" patterns, name no domain: reported as not tested).",
       {kConfigOption,
        {"--domain DOMAIN", "the recipient domain (required for routes of kind \"mx\")"},
        {"--all", "test every route (mx routes: every domain named in their address lists)"},
        {"--json", "print one JSON object (with --all: {\"routes\": [...]}); fields are stable, see README.md"},
        {"--timeout S", "seconds for the connection, the banner and each reply (default 30)"}},
       "0 deliveries would succeed (with --all: on every tested route); 1 they would not, or the test "
       "could not run; 2 usage error (unknown route, mx route without --domain)."},
      {"check-message", "what the tenant binding decides for a message, without sending it",
       "smarthost check-message [-c FILE] [--client IP] [--sender ADDR] [--file MSG]",
       "Reads one message (from --file, or standard input; LF line ends are taken as CRLF) and applies "
       "relay_policy as the relay would at MAIL and at the end of DATA: the client's exemption, the null "
       "sender, the envelope sender and the From: header against sender_domains, and the DKIM signatures "
       "by the require_dkim domains, their keys looked up with the relay's own resolver (dns.servers, "
       "DNSSEC when dns.dnssec). Prints each step, one line per checked signature, and the verdict with the "
       "reply the relay would give. Nothing is sent and nothing is queued.\n\n"
       "The client defaults to the first address of allow that is not exempt (a client the binding applies "
       "to); the sender to the Return-Path: header, else the From: address. --sender \"<>\" is the null "
       "sender.",
       {kConfigOption,
        {"--client IP", "the connecting client's address (default: the first non-exempt allow entry)"},
        {"--sender ADDR", "the envelope sender (default: Return-Path:, else From:); \"<>\" for the null sender"},
        {"--file MSG", "the message file (default: standard input)"}},
       "0 the relay would accept the message; 1 it would refuse it (5xx); 2 it would answer 451 4.7.5 (a DKIM "
       "key lookup failed for now); 3 the check could not run (usage error, unreadable message, bad "
       "configuration)."},
      {"queue", "list, show, hold, release, delete, bounce, flush, back up or restore queued messages",
       "smarthost queue [-c FILE] list [--json]\n"
       "smarthost queue [-c FILE] show ID\n"
       "smarthost queue [-c FILE] hold|release|delete|bounce ID...|ALL|-\n"
       "smarthost queue [-c FILE] flush\n"
       "smarthost queue [-c FILE] backup BACKUP|-\n"
       "smarthost queue [-c FILE] restore BACKUP|-",
       "Works on a running or a stopped relay. With a relay running, hold, release, delete and bounce are "
       "made by the relay itself over its control socket QUEUE/smarthost.ctl: it first stops a delivery of "
       "that message in progress, then commits the change, then answers; with none running the tool takes "
       "the queue lock for the moment of its change. Every action is logged (event=admin action=... id=... "
       "by=cli).\n\n"
       "list prints one line per message (id, size, sender, recipients and their state); ID* is being "
       "delivered now, ID! is held; --json prints {\"messages\": [...]} with \"held\" and \"active\". show "
       "prints one message's envelope, recipients, attempts and last errors. hold keeps a message from "
       "delivery (and from expiring) until release, across restarts; release makes it due at once. delete "
       "removes a message without notice. bounce returns it to its sender with a DSN (status 5.0.0) and "
       "removes it. flush asks the running relay to try every message not held now, in arrival order, "
       "also to a destination it found down (after a refused or timed-out connection to every "
       "host it defers that destination's messages for up to a minute without trying).\n\n"
       "IDs may be given as arguments, as ALL (every message; for release every held one), or as - "
       "(whitespace-separated on standard input).\n\n"
       "backup writes a consistent copy of the queue (QUEUE/data.mdb) to BACKUP while the relay runs, as "
       "mdb_copy -c does: one committed state, compacted, so every message answered with 250 before the copy "
       "began is in it. The copy is written to BACKUP.tmp, synced and renamed, then read back and checked; "
       "- writes it to standard output. It holds mail: mode 0600.\n\n"
       "restore puts a backup back as the queue of a stopped relay: it checks that BACKUP (- reads standard "
       "input) is a complete smarthost queue first, and refuses while a relay holds QUEUE/smarthost.lock or "
       "while the queue still holds messages (it replaces the queue, it does not merge). The relay delivers "
       "the restored messages when it starts; messages that were being delivered during the backup may be "
       "delivered twice.",
       {kConfigOption, {"--json", "list: one JSON object"}},
       "0; 1 on an unknown ID (the others are still acted on), a queue that cannot be opened, flush "
       "with no relay running, a backup that cannot be written, or a restore refused; 2 on a usage error."},
      {"status", "is the relay running: sessions, queue by state, last deliveries per route",
       "smarthost status [-c FILE] [--json]",
       "Prints the version, pid, uptime, config file and when it was loaded, listeners, sessions in and out, "
       "the queue by state (held, being delivered, recipients pending and deferred), the last attempt and "
       "the last delivery of each route with its TLS version, and the oldest deferred message. The queue "
       "figures are read from the queue itself; the relay is asked over QUEUE/smarthost.ctl only for what "
       "it alone knows.",
       {kConfigOption, {"--json", "one JSON object; its fields are listed in README.md"}},
       "0 a relay is running; 1 none is (the queue figures are still printed)."},
      {"tlsrpt", "show or send the TLS reports (RFC 8460)",
       "smarthost tlsrpt [-c FILE] show [--date YYYY-MM-DD] [--json]\n"
       "smarthost tlsrpt [-c FILE] send [--date YYYY-MM-DD]",
       "show prints the session counts of one UTC day (default today) per policy domain, with the failure "
       "details; --json prints the RFC 8460 reports send would send.\n\n"
       "send ends the period on demand: for every domain with counts on that day that was not reported yet, "
       "looks up _smtp._tls.DOMAIN and sends the gzip'ed JSON report to each rua (mailto: through the queue, "
       "DKIM-signed when tlsrpt.dkim is set; https: by POST).",
       {kConfigOption, {"--date YYYY-MM-DD", "the UTC day (default today)"}, {"--json", "show: JSON"}},
       "0 every report went out (or there was nothing to send); 1 one failed; 2 on a usage error."},
      {"mta-sts", "MTA-STS records for your own domain, and a check of what is published",
       "smarthost mta-sts record DOMAIN\n"
       "smarthost mta-sts [-c FILE] check DOMAIN",
       "record prints the DNS TXT records (_mta-sts and _smtp._tls) and the policy file to publish for "
       "DOMAIN.\n\n"
       "check looks up what DOMAIN publishes (the TXT record, the policy over HTTPS, the MX hosts it names) "
       "with the relay's resolver and trust store and says what is wrong.",
       {kConfigOption},
       "0; 1 when check finds a problem; 2 on a usage error."},
      {"admin-passwd", "print a password hash for the admin console", "smarthost admin-passwd",
       "Reads a password from standard input and prints its crypt(3) yescrypt hash (as mkpasswd -m yescrypt "
       "makes them) for admin.users[].password_hash. On a terminal it asks twice with echo off; otherwise it "
       "takes the first line, so that `printf '%s\\n' \"$PW\" | smarthost admin-passwd` works in scripts.\n\n"
       "The console (the admin section, docs/config.md) checks logins against these hashes; a reload applies "
       "changed users.",
       {},
       "0; 1 when the password is empty, the two entries differ, or the hash cannot be made; 2 on a usage "
       "error."},
      {"verify-signature", "check the Ed25519 signature of an appliance update's manifest",
       "smarthost verify-signature --key PUBKEY --signature SIG FILE",
       "Checks with wolfSSL that SIG (64 octets) is the Ed25519 signature (RFC 8032) of FILE by the key in "
       "PUBKEY (PEM, as openssl pkey -pubout writes it). smarthost-update on the appliance runs it on the "
       "manifest of an update bundle with the key built into the image (/usr/lib/smarthost/update-signing.pub) "
       "before it writes anything. Needs no configuration file.",
       {{"--key PUBKEY", "the Ed25519 public key (PEM)"}, {"--signature SIG", "the signature, 64 raw octets"}},
       "0 the signature is good; 1 it is not, or a file or the key cannot be read; 2 on a usage error."},
      {"help", "the manual of a sub-command", "smarthost help [COMMAND]\nsmarthost help --roff [COMMAND]",
       "Without COMMAND lists the sub-commands. With COMMAND prints its manual page. --roff prints the page "
       "as a roff man page (section 8; without COMMAND the overview smarthost(8)); make install writes the "
       "installed man pages this way.",
       {{"--roff", "print roff for man(1) instead of text"}},
       "0; 2 for an unknown COMMAND."},
      {"version", "print the version", "smarthost version\nsmarthost --version",
       "Prints \"smarthost VERSION\".", {}, "0."},
  };
}

}  // namespace

const std::vector<CommandHelp>& command_help() {
  static const std::vector<CommandHelp> pages = make_pages();
  return pages;
}

}  // namespace relay
