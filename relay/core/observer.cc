// observer.cc - the process's observer (see observer.h).
#include "relay/core/observer.h"

namespace relay {

namespace {
Observer g_nobody;
Observer* g_installed = nullptr;
}  // namespace

Observer& observer() { return g_installed ? *g_installed : g_nobody; }
void set_observer(Observer* o) { g_installed = o; }

}  // namespace relay
