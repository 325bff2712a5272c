// history_event.cc - JSON encoding of history events (see history_event.h).
#include "relay/core/history_event.h"

#include <nlohmann/json.hpp>

#include "relay/core/json_dump.h"

namespace relay {

const char* history_kind_name(HistoryKind k) {
  switch (k) {
    case HistoryKind::Accepted: return "accepted";
    case HistoryKind::Delivery: return "delivery";
    case HistoryKind::Dsn: return "dsn";
    case HistoryKind::Admin: return "admin";
  }
  return "?";
}

namespace {

// Short keys: millions of these may be kept.
void put(nlohmann::ordered_json& j, const char* k, const std::string& v) {
  if (!v.empty()) j[k] = v;
}

std::string get(const nlohmann::json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string encode_history_event(const HistoryEvent& e) {
  nlohmann::ordered_json j;
  j["t"] = e.time_us;
  j["k"] = static_cast<int>(e.kind);
  j["id"] = e.id;
  put(j, "mid", e.message_id);
  put(j, "from", e.sender);
  if (!e.recipients.empty()) j["to"] = e.recipients;
  if (e.size) j["size"] = e.size;
  put(j, "client", e.client);
  put(j, "tin", e.tls_in);
  put(j, "rcpt", e.rcpt);
  put(j, "route", e.route);
  put(j, "relay", e.relay);
  put(j, "st", e.status);
  put(j, "dsn", e.dsn);
  put(j, "tls", e.tls_version);
  put(j, "cipher", e.cipher);
  put(j, "verify", e.verify);
  put(j, "reason", e.reason);
  put(j, "host", e.remote_host);
  put(j, "prob", e.tls_problem);
  put(j, "csub", e.cert_subject);
  put(j, "ciss", e.cert_issuer);
  put(j, "cfp", e.cert_sha256);
  if (e.cert_not_after) j["cexp"] = e.cert_not_after;
  return json_dump(j);
}

bool decode_history_event(const std::string& text, HistoryEvent* e) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("t") || !j["t"].is_number_integer() || !j.contains("k") ||
      !j["k"].is_number_integer())
    return false;
  int k = j["k"].get<int>();
  if (k < 0 || k > static_cast<int>(HistoryKind::Admin)) return false;
  e->time_us = j["t"].get<int64_t>();
  e->kind = static_cast<HistoryKind>(k);
  e->id = get(j, "id");
  e->message_id = get(j, "mid");
  e->sender = get(j, "from");
  e->recipients.clear();
  if (j.contains("to") && j["to"].is_array()) {
    for (const auto& r : j["to"]) {
      if (r.is_string()) e->recipients.push_back(r.get<std::string>());
    }
  }
  e->size = j.contains("size") && j["size"].is_number_unsigned() ? j["size"].get<uint64_t>() : 0;
  e->client = get(j, "client");
  e->tls_in = get(j, "tin");
  e->rcpt = get(j, "rcpt");
  e->route = get(j, "route");
  e->relay = get(j, "relay");
  e->status = get(j, "st");
  e->dsn = get(j, "dsn");
  e->tls_version = get(j, "tls");
  e->cipher = get(j, "cipher");
  e->verify = get(j, "verify");
  e->reason = get(j, "reason");
  e->remote_host = get(j, "host");
  e->tls_problem = get(j, "prob");
  e->cert_subject = get(j, "csub");
  e->cert_issuer = get(j, "ciss");
  e->cert_sha256 = get(j, "cfp");
  e->cert_not_after = j.contains("cexp") && j["cexp"].is_number_integer() ? j["cexp"].get<int64_t>() : 0;
  return true;
}

}  // namespace relay
