// fuzz_config_loader.cc - libFuzzer target: libconfig text → validated Config (config/config_loader.h).
//
// Any text must give either a Config or at least one error, every error in the "FILE:LINE: ..."
// (or "FILE: ...") form, never both and never a crash. Inputs with @include are skipped: they would
// read arbitrary files of the machine running the fuzzer, which is not input the loader gets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  if (text.find("@include") != std::string::npos) return 0;
  config::LoadResult r = config::load_config_text(text, "fuzz.cfg");
  if (!r.config == r.errors.empty()) abort();  // exactly one of config / errors
  for (const auto& e : r.errors) {
    if (e.compare(0, 8, "fuzz.cfg") != 0) abort();
  }
  if (r.config && (r.config->routes.empty() || r.config->allow.empty() || r.config->queue.path.empty())) {
    abort();  // required keys
  }
  return 0;
}
