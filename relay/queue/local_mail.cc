// local_mail.cc - one envelope for mail the relay writes itself (see local_mail.h).
#include "relay/queue/local_mail.h"

#include <sys/time.h>

#include "router/base/utf8_text.h"

namespace relay {

namespace {

int64_t now_us() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

// The envelope of `mail` into *env, its id into in->id; false (in->no_route set, nothing to
// queue) when a recipient has no route.
bool local_envelope(const LocalMail& mail, const router::RouteTable& routes, Envelope* env, Injected* in) {
  env->id = new_queue_id();
  env->sender = mail.sender;
  env->arrival_us = now_us();
  env->size = mail.text.size();
  env->client_ip = "127.0.0.1";
  env->helo = "localhost";
  env->origin = mail.origin;
  // A DSN on internationalised mail is internationalised too (RFC 6533): it goes with SMTPUTF8,
  // and like any 8-bit message only to hops that offer what it needs.
  size_t head_end = mail.text.find("\r\n\r\n");
  bool utf8 = base::has_8bit(mail.sender) || base::has_8bit(std::string_view(mail.text).substr(0, head_end));
  for (const auto& address : mail.recipients) utf8 = utf8 || base::has_8bit(address);
  env->smtputf8 = utf8;
  env->eight_bit = base::has_8bit(mail.text);
  env->require_tls = mail.require_tls;
  for (const auto& address : mail.recipients) {
    const config::Route* route = routes.route_for(address);
    if (!route) {
      in->no_route = address;
      in->status = StoreStatus::Error;
      return false;
    }
    Recipient r;
    r.address = address;
    r.route = route->name;
    r.next_attempt = env->arrival_us / 1000000;
    env->recipients.push_back(std::move(r));
  }
  in->id = env->id;
  return true;
}

}  // namespace

Injected inject_local_mail(QueueStore& store, const router::RouteTable& routes, LocalMail mail) {
  Envelope env;
  Injected in;
  if (local_envelope(mail, routes, &env, &in)) in.status = store.put_message(env, mail.text);
  return in;
}

Injected inject_local_mail_async(QueueStore& store, const router::RouteTable& routes, LocalMail mail,
                                 std::function<void(const Injected&)> done) {
  Envelope env;
  Injected in;
  if (!local_envelope(mail, routes, &env, &in)) return in;
  store.put_message_async(std::move(env), std::move(mail.text), [in, done = std::move(done)](StoreStatus s) {
    Injected answer = in;
    answer.status = s;
    done(answer);
  });
  return in;
}

}  // namespace relay
