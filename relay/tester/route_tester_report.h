// route_tester_report.h - how `smarthost test-route` shows a RouteTestReport:
// aligned text, one block per connection attempt, or one JSON document.
//
// The JSON field names are a public interface (README.md, "test-route
// --json"): fields may be added, never renamed. Printing cannot fail.
#pragma once

#include <ostream>

#include "relay/tester/route_tester.h"

namespace relay {

// Text for a terminal or a log; ANSI colours only when `colour` is set.
void print_test_report(const RouteTestReport& rep, bool colour, std::ostream& out);

// One JSON object, then a newline.
void print_test_report_json(const RouteTestReport& rep, std::ostream& out);

}  // namespace relay
