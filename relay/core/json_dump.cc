// json_dump.cc - JSON text from a value, invalid UTF-8 replaced (see json_dump.h).
#include "relay/core/json_dump.h"

#include <nlohmann/json.hpp>

namespace relay {

std::string json_dump(const nlohmann::ordered_json& doc, int indent) {
  return doc.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace relay
