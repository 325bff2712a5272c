// console_feed.h - the observer (relay/core/observer.h) the daemon installs when the console is
// on: every event goes to the metrics, the certificate expiry watch and the delivery history. Nothing here fails or waits
// (HistoryStore::record only hands the event to the writer thread).
#pragma once

#include "relay/console/cert_expiry_watch.h"
#include "relay/console/metrics.h"
#include "relay/core/observer.h"
#include "relay/queue/history_store.h"

namespace relay {

class ConsoleFeed : public Observer {
 public:
  ConsoleFeed(Metrics& m, CertExpiryWatch& c, HistoryStore& h) : metrics_(m), certs_(c), history_(h) {}
  void event(const HistoryEvent& e) override {
    metrics_.event(e);
    certs_.event(e);
    history_.record(e);
  }
  void inbound_session(const std::string& tls_version) override { metrics_.inbound_session(tls_version); }

 private:
  Metrics& metrics_;
  CertExpiryWatch& certs_;
  HistoryStore& history_;
};

}  // namespace relay
